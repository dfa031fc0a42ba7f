"""pianograd.nn: modules and layers (the shape of torch.nn), from the C++ engine.

Subclass :class:`Module` in Python; assigning a Module, or a leaf tensor that requires grad, to an
attribute registers it (as a child / a parameter), so ``parameters()`` and ``state_dict()`` see it.
"""
from __future__ import annotations

import sys as _sys
from typing import Any

from ._core import Tensor as _Tensor
from ._core.nn import *  # noqa: F401,F403
from ._core.nn import Module, init

# `import pianograd.nn.init` / `from pianograd.nn import init` both work.
_sys.modules[__name__ + ".init"] = init

_object_setattr = object.__setattr__


def _module_setattr(self: Module, name: str, value: Any) -> None:
    if not name.startswith("_"):
        if isinstance(value, Module):
            if name not in dict(self.named_children()):
                self.register_module(name, value)
        elif isinstance(value, _Tensor) and value.requires_grad and value.is_leaf:
            registered = {n for n, _ in self.named_parameters() if "." not in n}
            if name not in registered:
                value = self.register_parameter(name, value)
    _object_setattr(self, name, value)


Module.__setattr__ = _module_setattr


def Parameter(data: Any) -> _Tensor:
    """A leaf tensor that requires grad (assign it to a Module attribute to register it)."""
    from . import tensor

    t = data.detach() if isinstance(data, _Tensor) else tensor(data)
    t.requires_grad_(True)
    return t
