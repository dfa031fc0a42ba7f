// Umbrella header: #include <pianograd/pianograd.h> gives the whole public C++ API.
#pragma once
#include "autodiff/checkpoint.h"
#include "autodiff/nn/nn.h"
#include "autodiff/ops.h"
#include "autodiff/optim/optim.h"
#include "autodiff/tape.h"
#include "autodiff/tensor.h"
