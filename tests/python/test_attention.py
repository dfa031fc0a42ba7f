"""pg.scaled_dot_product_attention against NumPy: the forward against the textbook softmax attention,
the gradients from the engine's backward against NumPy's analytic backward (the softmax VJP) and
against central finite differences, and its errors as Python exceptions."""
import numpy as np
import pytest

import pianograd as pg


def mask(tq, tk, causal):
    """True where query i may attend key j: j <= i + tk - tq (aligned to the end) when causal."""
    i = np.arange(tq)[:, None]
    j = np.arange(tk)[None, :]
    return (j <= i + tk - tq) if causal else np.ones((tq, tk), dtype=bool)


def reference(q, k, v, causal, scale):
    """Forward and a closure giving (dq, dk, dv) for an upstream gradient, all in NumPy float64."""
    scale = scale or 1.0 / np.sqrt(q.shape[-1])
    s = scale * q @ np.swapaxes(k, -1, -2)
    s = np.where(mask(q.shape[-2], k.shape[-2], causal), s, -np.inf)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    out = p @ v

    def backward(g):
        dv = np.swapaxes(p, -1, -2) @ g
        dp = g @ np.swapaxes(v, -1, -2)
        ds = p * (dp - (p * dp).sum(axis=-1, keepdims=True))
        return scale * ds @ k, scale * np.swapaxes(ds, -1, -2) @ q, dv

    return out, backward


CASES = [
    # (q shape, k shape, causal, scale)
    ((2, 3, 6, 8), (2, 3, 6, 8), True, 0.0),
    ((2, 3, 4, 8), (2, 3, 9, 8), True, 0.0),   # Tq < Tk: the mask aligned to the end
    ((1, 2, 1, 5), (1, 2, 7, 5), True, 0.0),   # one query against a KV cache
    ((2, 2, 5, 7), (2, 2, 3, 7), False, 0.3),  # Tq > Tk without a mask, explicit scale
    ((1, 1, 90, 20), (1, 1, 90, 20), True, 0.0),  # past one 64-key tile, a head dim with a tail
]


@pytest.mark.parametrize("qs,ks,causal,scale", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_numpy_forward_and_backward(qs, ks, causal, scale, dtype):
    rng = np.random.default_rng(7)
    q, k = (2 * rng.standard_normal(s) for s in (qs, ks))
    v, g = rng.standard_normal(ks), rng.standard_normal(qs)
    want, backward = reference(q, k, v, causal, scale)
    tq, tk, tv = (pg.tensor(x.astype(dtype), requires_grad=True) for x in (q, k, v))
    out = pg.scaled_dot_product_attention(tq, tk, tv, causal=causal, scale=scale)
    assert out.shape == qs
    tol = 1e-11 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out.numpy(), want, rtol=tol, atol=tol)
    (out * pg.tensor(g.astype(dtype))).sum().backward()
    for name, t, w in zip("qkv", (tq, tk, tv), backward(g)):
        np.testing.assert_allclose(t.grad.numpy(), w, rtol=tol, atol=tol, err_msg=f"d{name}")


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(s) for s in ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4))]
    w = rng.standard_normal((1, 2, 3, 4))

    def loss(*arrays):
        ts = [pg.tensor(a) for a in arrays]
        return float((pg.scaled_dot_product_attention(*ts) * pg.tensor(w)).sum().item())

    ts = [pg.tensor(x.copy(), requires_grad=True) for x in xs]
    (pg.scaled_dot_product_attention(*ts) * pg.tensor(w)).sum().backward()
    eps = 1e-6
    for i, t in enumerate(ts):
        num = np.zeros_like(xs[i])
        for idx in np.ndindex(xs[i].shape):
            plus = [x.copy() for x in xs]
            minus = [x.copy() for x in xs]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            num[idx] = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-8, err_msg=f"input {i}")


def test_errors_are_python_exceptions():
    q = np.zeros((2, 3, 6, 8), dtype=np.float32)
    k = np.zeros((2, 3, 4, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*Tq <= Tk.*\[2,3,6,8\]"):
        pg.scaled_dot_product_attention(q, k, k, causal=True)
    with pytest.raises(ValueError, match="head dims differ"):
        pg.scaled_dot_product_attention(q, np.zeros((2, 3, 6, 5), np.float32), np.zeros((2, 3, 6, 5), np.float32))
    with pytest.raises(TypeError):
        pg.scaled_dot_product_attention(q, k.astype(np.float64), k, causal=False)
    assert pg.scaled_dot_product_attention(q, k, k, causal=False).shape == (2, 3, 6, 8)
