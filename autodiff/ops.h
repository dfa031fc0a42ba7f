// Every op of the engine.
#pragma once
#include "autodiff/ops/attention.h"
#include "autodiff/ops/conv.h"
#include "autodiff/ops/elementwise.h"
#include "autodiff/ops/harmonic_stack.h"
#include "autodiff/ops/linalg.h"
#include "autodiff/ops/nn_ops.h"
#include "autodiff/ops/recurrent.h"
#include "autodiff/ops/reduce.h"
#include "autodiff/ops/shape_ops.h"
#include "autodiff/tape.h"
#include "autodiff/tensor.h"
#include "autodiff/ops/spectral.h"
