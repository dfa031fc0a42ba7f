"""Gradients computed by the engine, called from Python, equal central finite differences (float64)."""
import numpy as np
import pytest

import pianograd as pg


def numeric_grad(f, xs, i, eps=1e-6):
    """d sum(f(*xs)) / d xs[i] by central differences on NumPy copies."""
    base = [x.copy() for x in xs]
    g = np.zeros_like(base[i])
    it = np.nditer(base[i], flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        plus = [b.copy() for b in base]
        minus = [b.copy() for b in base]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        fp = f(*[pg.tensor(p) for p in plus]).sum().item()
        fm = f(*[pg.tensor(m) for m in minus]).sum().item()
        g[idx] = (fp - fm) / (2 * eps)
    return g


CASES = [
    ("mul_add", lambda a, b: a * b + a, [(3, 4), (4,)]),
    ("div_pow", lambda a, b: (a / (b * b + 1.0)) ** 2, [(2, 3), (2, 3)]),
    ("tanh_exp", lambda a: pg.tanh(a) * pg.exp(-a * a), [(5,)]),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)]),
    ("softmax", lambda a: pg.softmax(a, axis=1) * pg.arange(4, dtype=pg.float64), [(3, 4)]),
    ("indexing", lambda a: a[1:, ::2] * a[0, :2], [(3, 4)]),
    ("sum_mean", lambda a: pg.sum(a, axis=0) * pg.mean(a, axis=1, keepdim=True), [(3, 3)]),
    ("sigmoid_log", lambda a: pg.log(pg.sigmoid(a) + 1.0), [(6,)]),
    ("layer_norm", lambda a: pg.layer_norm(a, [4]) * pg.arange(4, dtype=pg.float64), [(2, 4)]),
]


@pytest.mark.parametrize("name,f,shapes", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(name, f, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-1.5, 1.5, size=s) for s in shapes]
    ts = [pg.tensor(x.copy(), requires_grad=True) for x in xs]
    f(*ts).sum().backward()
    for i, t in enumerate(ts):
        np.testing.assert_allclose(t.grad.numpy(), numeric_grad(f, xs, i), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: input {i}")


def test_gradient_through_numpy_backed_tensor():
    a = np.array([0.5, -1.0, 2.0])
    t = pg.tensor(a, requires_grad=True)  # shares a's memory
    (t * t * t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 3 * a ** 2)


def test_conv2d_per_axis_arguments_fused_relu_and_concat():
    rng = np.random.default_rng(3)
    x = pg.from_numpy(rng.standard_normal((2, 3, 9, 7)))
    x2 = pg.from_numpy(rng.standard_normal((2, 2, 9, 7)))
    w = pg.from_numpy(rng.standard_normal((4, 5, 3, 1)))
    b = pg.from_numpy(rng.standard_normal(4))
    # An int is the same pair on both axes; a pair pads time only.
    w33 = pg.from_numpy(rng.standard_normal((4, 3, 3, 3)))
    assert np.array_equal(pg.conv2d(x, w33, padding=1).numpy(), pg.conv2d(x, w33, padding=(1, 1)).numpy())
    both = pg.concat([x, x2], 1)
    y = pg.conv2d(both, w, b, padding=(1, 0), activation="relu")
    assert tuple(y.shape) == (2, 4, 9, 7)
    assert np.array_equal(y.numpy(), pg.relu(pg.conv2d(both, w, b, padding=(1, 0))).numpy())
    # conv2d_concat reads [x | x2] in place: same values and gradients as the concatenation.
    xa, xb = x.detach(), x2.detach()
    xa.requires_grad = xb.requires_grad = True
    yc = pg.conv2d_concat(xa, xb, w, b, padding=(1, 0), activation="relu")
    assert np.array_equal(yc.numpy(), y.numpy())
    r = pg.from_numpy(rng.standard_normal((2, 4, 9, 7)))
    pg.sum(yc * r).backward()
    xa2, xb2 = x.detach(), x2.detach()
    xa2.requires_grad = xb2.requires_grad = True
    pg.sum(pg.conv2d(pg.concat([xa2, xb2], 1), w, b, padding=(1, 0), activation="relu") * r).backward()
    assert np.allclose(xa.grad.numpy(), xa2.grad.numpy()) and np.allclose(xb.grad.numpy(), xb2.grad.numpy())
    with pytest.raises(ValueError, match="activation"):
        pg.conv2d(x, w33, activation="tanh")
    with pytest.raises(ValueError, match="pair"):
        pg.conv2d(x, w33, padding=(1, 1, 1))
