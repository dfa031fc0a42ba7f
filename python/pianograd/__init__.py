"""pianograd: a reverse-mode autodiff engine with SIMD kernels, and a differentiable piano.

    >>> import pianograd as pg
    >>> x = pg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> y.backward()
    >>> x.grad.numpy()
    array([2., 4., 6.], dtype=float32)

The compiled engine lives in ``pianograd._core``; this package re-exports it with the Pythonic
surface: ``tensor``, ``no_grad``, tensor methods for the common ops, and ``nn``/``optim``
submodules where the engine provides them. The differentiable piano is ``Piano`` (render a
``Performance`` or a MIDI file from ``read_midi``), ``fit_note`` fits one key to a recorded note.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as _np

from . import _core
from ._core import *  # noqa: F401,F403  (every op and class of the engine)
from ._core import DType, Device, Tensor, __version__

# _core's submodules are re-exported by this package's own nn.py / optim.py (which add Python-side
# behaviour); drop the star-imported extension submodules so `from . import nn` loads those files.
del nn, optim  # type: ignore[name-defined]  # noqa: F821

float32 = DType.float32
float64 = DType.float64
int32 = DType.int32
int64 = DType.int64
# Short aliases used in the C++ API and in error messages.
f32, f64, i32, i64 = float32, float64, int32, int64


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Makes a Tensor from a NumPy array, a nested sequence, a number or a Tensor.

    A NumPy array that is C-contiguous, aligned, writeable and of a supported dtype (float32,
    float64, int32, int64) is shared, not copied: writes through either side are seen by the other,
    and the array stays alive as long as the tensor. Python floats default to float32 (the
    engine's default dtype), Python ints to int64. A Tensor argument is copied (detached).
    """
    if isinstance(data, Tensor):
        with no_grad():
            t = data.detach().clone()
        if dtype is not None:
            t = t.to(dtype)
    else:
        is_numpy = isinstance(data, (_np.ndarray, _np.generic))
        arr = data if isinstance(data, _np.ndarray) else _np.asarray(data)
        if dtype is not None:
            arr = arr.astype(as_dtype(dtype).numpy, copy=False)
        elif not is_numpy and arr.dtype.kind == "f":
            arr = arr.astype(_np.float32)
        t = _core.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like :func:`tensor`, but returns a Tensor argument itself (no copy) when its dtype matches."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == as_dtype(dtype)):
        return data
    return tensor(data, dtype=dtype)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager (and decorator) turning off recording onto the tape in this thread."""
    prev = _core.is_grad_enabled()
    _core.set_grad_enabled(False)
    try:
        yield
    finally:
        _core.set_grad_enabled(prev)


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Context manager turning recording back on (inside a no_grad block)."""
    prev = _core.is_grad_enabled()
    _core.set_grad_enabled(True)
    try:
        yield
    finally:
        _core.set_grad_enabled(prev)


def device(spec: Any) -> Device:
    """A Device from 'cpu' or 'cuda[:N]'."""
    return Device(spec)


def numel(t: Tensor) -> int:
    return t.numel()


# ---- Tensor methods for the common ops (t.exp(), t.sum(axis=1), ...): the module functions
# bound as methods, so there is one implementation and one docstring.
_METHODS = [
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "softplus", "clamp",
    "neg", "sum", "mean", "var", "max", "min", "argmax", "logsumexp", "softmax", "log_softmax",
    "permute", "transpose", "squeeze", "unsqueeze", "expand", "pad", "gather", "scatter_add",
    "index_select", "matmul", "maximum", "minimum", "pow", "add", "sub", "mul", "div",
]


def _bind_method(name: str) -> None:
    fn = getattr(_core, name, None)
    if fn is None or hasattr(Tensor, name):
        return

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = fn.__doc__
    setattr(Tensor, name, method)


for _name in _METHODS:
    _bind_method(_name)
del _name


def _tensor_repr(self: Tensor) -> str:
    """NumPy-style printing (elided when large) with dtype and autograd state."""
    body = _np.array2string(self.numpy(), separator=", ", prefix="tensor(", threshold=200, edgeitems=3)
    extras = [f"dtype={self.dtype.name}"]
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{self.grad_fn}>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return f"tensor({body}, {', '.join(extras)})"


Tensor.__repr__ = _tensor_repr
Tensor.__str__ = _tensor_repr

from . import nn, optim  # noqa: E402  (submodules need the names above)
from ._core import cuda  # noqa: E402,F401  (pg.cuda.is_available(), device_count(), ...)
from .lm.generate import generate  # noqa: E402,F401  (pg.generate: the motion LM continues a prompt)

from . import omr  # noqa: E402,F401  (pg.omr(image) reads printed music; the package is callable)


# Python-side progress reporting for long loops (tqdm on a terminal, whole lines in a log).
def progress(iterable: Any, **kwargs: Any) -> Any:
    """Wraps an iterable in a progress report: a tqdm bar on a terminal or in a notebook, a plain line
    every few seconds when the output goes to a file or a log (pianograd.progress_report.progress_bar)."""
    from .progress_report import progress_bar

    return progress_bar(iterable, **kwargs)


__all__ = [n for n in dir() if not n.startswith("_")]
