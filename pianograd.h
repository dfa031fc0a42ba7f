// Umbrella header: #include <pianograd/pianograd.h> gives the whole public C++ API.
#pragma once
#include "autodiff/checkpoint.h"
#include "autodiff/distributed/grad_reducer.h"
#include "autodiff/distributed/process_group.h"
#include "autodiff/grad_hooks.h"
#include "autodiff/nn/nn.h"
#include "autodiff/ops.h"
#include "autodiff/optim/optim.h"
#include "autodiff/tape.h"
#include "autodiff/tensor.h"
