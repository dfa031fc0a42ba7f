"""Stale gradients through zero-copy NumPy memory (issue 17, item 4): a saved input changed between an op
and the backward through it raises (it gave x.grad = [10, 10, 10] instead of [2, 2, 2]); reading a
tensor through NumPy, or writing it after the backward, does not."""
from __future__ import annotations

import numpy as np
import pytest

import pianograd as pg


def test_write_through_the_wrapped_numpy_array_is_refused():
    a = np.ones(3, np.float32)
    x = pg.tensor(a)
    x.requires_grad = True
    y = pg.sum(pg.mul(x, x))
    a[:] = 5
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_assignment_to_a_saved_plain_input_is_refused():
    w = pg.ones([3])
    w.requires_grad = True
    x = pg.full([3], 2.0)
    y = pg.sum(pg.mul(w, x))
    x[0] = 7.0
    with pytest.raises(RuntimeError, match="op 'mul'"):
        y.backward()


def test_optimizer_step_before_backward_is_refused():
    w = pg.ones([3])
    w.requires_grad = True
    y = pg.sum(pg.mul(w, w))
    y.backward(retain_graph=True)
    pg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_reading_through_numpy_and_writing_after_backward_are_fine():
    a = np.arange(3, dtype=np.float32)
    x = pg.tensor(a)
    x.requires_grad = True
    h = pg.mul(x, x)
    _ = h.numpy().sum() + np.asarray(x).sum()  # exports after the op: no false alarm
    pg.sum(h).backward()
    assert x.grad.numpy().tolist() == [0.0, 2.0, 4.0]
    a[:] = 1  # after the backward: nothing left to protect
    y = pg.sum(pg.mul(x, x))
    y.backward()
