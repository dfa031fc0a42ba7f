"""pianograd.optim: SGD, Adam, AdamW, learning-rate schedules, gradient clipping (C++ engine)."""
from ._core.optim import *  # noqa: F401,F403
from ._core.optim import LRSchedule, Optimizer  # noqa: F401
