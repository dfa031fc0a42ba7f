// Every optimizer, gradient clipping and the learning-rate schedules.
#pragma once
#include "autodiff/optim/adam.h"
#include "autodiff/optim/clip.h"
#include "autodiff/optim/optimizer.h"
#include "autodiff/optim/schedule.h"
#include "autodiff/optim/sgd.h"
