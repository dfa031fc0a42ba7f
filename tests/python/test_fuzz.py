"""Randomised shapes, dtypes and values (hypothesis): every call either returns or raises a Python
exception — never crashes the interpreter."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pianograd as pg

EXPECTED = (ValueError, TypeError, IndexError, RuntimeError, OverflowError)

dtypes = st.sampled_from([np.float32, np.float64, np.int32, np.int64])
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
arrays = st.builds(lambda dt, sh, seed: (np.random.default_rng(seed).standard_normal(sh) * 3).astype(dt),
                   dtypes, shapes, st.integers(0, 2**31))

UNARY = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "softplus", "neg"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "lt", "matmul"]


def call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except EXPECTED:
        return None


@given(arrays, st.sampled_from(UNARY))
def test_unary_never_crashes(a, op):
    r = call(getattr(pg, op), pg.tensor(a))
    if r is not None:
        assert r.shape == a.shape


@given(arrays, arrays, st.sampled_from(BINARY))
def test_binary_never_crashes(a, b, op):
    r = call(getattr(pg, op), pg.tensor(a), pg.tensor(b))
    if r is not None and op != "matmul":
        assert r.shape == np.broadcast_shapes(a.shape, b.shape)


@given(arrays, st.one_of(st.none(), st.integers(-5, 5), st.lists(st.integers(-5, 5), max_size=3)), st.booleans())
def test_reductions_never_crash(a, axis, keepdim):
    t = pg.tensor(a)
    for op in ("sum", "mean", "var"):
        call(getattr(pg, op), t, axis=axis, keepdim=keepdim)
    if isinstance(axis, int):
        for op in ("softmax", "log_softmax", "logsumexp", "argmax"):
            call(getattr(pg, op), t, axis)
        call(pg.max, t, axis)


@given(arrays, st.lists(st.integers(-7, 7), max_size=5), st.integers(-5, 5), st.integers(-5, 5))
def test_shape_ops_never_crash(a, shape, d0, d1):
    t = pg.tensor(a)
    call(pg.reshape, t, shape)
    call(pg.transpose, t, d0, d1)
    call(pg.squeeze, t, d0)
    call(pg.unsqueeze, t, d0)
    call(pg.permute, t, shape)
    call(pg.expand, t, shape)
    call(pg.slice, t, d0, d1, d1 + 3, max(1, d0))
    call(pg.concat, [t, t], d0)
    call(pg.stack, [t, t], d1)
    call(pg.pad, t, shape[:2] if shape else [], 1.0)
    call(pg.index_select, t, d0, pg.tensor(np.array(shape, dtype=np.int64)))
    call(pg.gather, t, d0, pg.tensor(np.zeros(a.shape, dtype=np.int64)))


@given(arrays, st.lists(st.one_of(st.integers(-6, 6), st.slices(6), st.none(), st.just(Ellipsis)), max_size=5))
def test_indexing_never_crashes(a, key):
    t = pg.tensor(a)
    r = call(t.__getitem__, tuple(key))
    if r is not None and all(not isinstance(k, slice) or (k.step or 1) > 0 for k in key):
        try:
            want = a[tuple(key)]
        except IndexError:
            return
        np.testing.assert_array_equal(r.numpy(), want)


@given(arrays, st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3))
def test_nn_ops_never_crash(a, cout, k, pad, stride):
    t = pg.tensor(a)
    w = pg.randn([cout, a.shape[1] if a.ndim > 1 else 1, k])
    call(pg.conv1d, t, w, padding=pad, stride=stride)
    call(pg.max_pool1d, t, k, stride, pad)
    call(pg.layer_norm, t, list(a.shape[-1:]))
    call(pg.cross_entropy, t, pg.tensor(np.zeros(a.shape[:1], dtype=np.int64)))
    call(pg.mse_loss, t, pg.zeros_like(t))


@given(arrays)
def test_backward_from_random_graph_never_crashes(a):
    t = pg.tensor(a)
    if call(t.requires_grad_, True) is None:
        return
    y = call(lambda: pg.sum(pg.tanh(t) * t + 1.0))
    if y is not None:
        y.backward()
        assert t.grad.shape == t.shape
    call(t.backward)  # not a scalar / no graph: an exception, not a crash
