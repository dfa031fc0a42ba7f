// Umbrella header: #include <pianograd/pianograd.h> gives the whole public C++ API.
#pragma once
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "autodiff/tensor.h"
