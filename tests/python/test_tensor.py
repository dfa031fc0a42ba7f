"""Tensor API from Python: creation, properties, operators, indexing, repr, no_grad."""
import math

import numpy as np
import pytest

import pianograd as pg


def test_creation_and_properties():
    t = pg.zeros((2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6
    assert t.dtype == pg.float32 and str(t.device) == "cpu" and t.device == "cpu"
    assert not t.requires_grad and t.grad is None and t.is_leaf and t.grad_fn is None
    assert pg.ones(4, dtype=pg.float64).dtype == pg.float64
    assert pg.ones(4, dtype="int32").dtype == pg.int32
    assert pg.ones(4, dtype=np.int64).dtype == pg.int64
    assert pg.full([2], 7.5).tolist() == [7.5, 7.5]
    assert pg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert pg.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    np.testing.assert_allclose(pg.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    assert pg.randn([3, 4], requires_grad=True).requires_grad
    r = pg.randint(0, 5, [100])
    assert r.dtype == pg.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert pg.scalar(3.0).shape == () and pg.scalar(3.0).item() == 3.0
    assert pg.zeros_like(r).dtype == pg.int64 and pg.ones_like(t).numpy().sum() == 6


def test_tensor_from_python_data():
    t = pg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.dtype == pg.float32 and t.shape == (2, 2)
    assert pg.tensor([1, 2, 3]).dtype == pg.int64
    assert pg.tensor([True, False]).dtype == pg.int64
    assert pg.tensor(2.5).shape == ()
    assert pg.tensor([1, 2], dtype=pg.float64).dtype == pg.float64
    c = pg.tensor(t)  # copies
    c.numpy()[0, 0] = 100
    assert t.numpy()[0, 0] == 1.0
    assert pg.as_tensor(t) is t


def test_seed_is_deterministic():
    pg.manual_seed(7)
    a = pg.randn([5]).numpy().copy()
    pg.manual_seed(7)
    b = pg.randn([5]).numpy()
    np.testing.assert_array_equal(a, b)


def test_operators_match_numpy():
    a_np = np.random.rand(3, 4).astype(np.float32) + 0.5
    b_np = np.random.rand(4).astype(np.float32) + 0.5
    a, b = pg.tensor(a_np), pg.tensor(b_np)
    cases = [
        (a + b, a_np + b_np), (a - b, a_np - b_np), (a * b, a_np * b_np), (a / b, a_np / b_np),
        (a ** 2, a_np ** 2), (a ** b, a_np ** b_np), (-a, -a_np), (2 + a, 2 + a_np), (2 - a, 2 - a_np),
        (2 * a, 2 * a_np), (2 / a, 2 / a_np), (2 ** a, 2 ** a_np), (abs(-a), a_np),
        (a @ pg.tensor(a_np.T), a_np @ a_np.T), (a_np + b, a_np + b_np), (b_np * a, b_np * a_np),
    ]
    for got, want in cases:
        assert isinstance(got, pg.Tensor)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_comparisons():
    a = pg.tensor([1.0, 2.0, 3.0])
    assert (a == 2).tolist() == [0, 1, 0]
    assert (a != 2).tolist() == [1, 0, 1]
    assert (a < 2).tolist() == [1, 0, 0] and (a <= 2).tolist() == [1, 1, 0]
    assert (a > 2).tolist() == [0, 0, 1] and (a >= 2).tolist() == [0, 1, 1]
    assert (a == None) is False  # noqa: E711
    assert hash(a) == hash(a) and a in {a}


def test_indexing_matches_numpy():
    x_np = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    x = pg.tensor(x_np)
    keys = [0, -1, (1, 2), (0, slice(1, None)), (slice(None), slice(None), slice(0, 4, 2)),
            (Ellipsis, 1), (None, 0), (1, None, slice(None, 2)), slice(5, 9), (slice(None), 2, 3),
            (0, slice(2, 1))]
    for k in keys:
        np.testing.assert_array_equal(x[k].numpy(), x_np[k], err_msg=str(k))
    idx = pg.tensor([2, 0])
    np.testing.assert_array_equal(x[:, idx].numpy(), x_np[:, [2, 0]])
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[0, 0, 0, 0]
    with pytest.raises(ValueError):
        x[::-1]
    with pytest.raises(TypeError):
        x["a"]


def test_setitem_len_iter_bool():
    x = pg.zeros([3, 2])
    x[1] = 5.0
    x[:, 0] = pg.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[1, 0], [2, 5], [3, 0]]
    assert len(x) == 3 and [r.shape for r in x] == [(2,)] * 3
    assert bool(pg.tensor([1.0])) and not bool(pg.tensor(0.0))
    with pytest.raises(ValueError):
        bool(x)
    with pytest.raises(TypeError):
        len(pg.scalar(1.0))
    w = pg.zeros(3, requires_grad=True)
    with pytest.raises(ValueError):
        w[0] = 1.0


def test_item_detach_clone_cast():
    a = pg.tensor([2.5], requires_grad=True)
    assert a.item() == 2.5 and isinstance(a.item(), float)
    assert isinstance(pg.tensor([3]).item(), int)
    assert float(a) == 2.5 and int(pg.tensor([3])) == 3
    d = a.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), a.numpy())
    c = (a * 2).clone()
    assert c.grad_fn is not None
    assert a.to(pg.float64).dtype == pg.float64 and a.double().dtype == pg.float64
    assert a.to("cpu").device == "cpu" and pg.tensor([1.7]).long().tolist() == [1]
    with pytest.raises(RuntimeError):
        a.to("cuda:0")


def test_reshape_and_methods():
    x = pg.arange(6, dtype=pg.float32)
    assert x.reshape(2, 3).shape == (2, 3) and x.reshape((3, -1)).shape == (3, 2) and x.view(6, 1).shape == (6, 1)
    m = x.reshape(2, 3)
    assert m.T.shape == (3, 2) and m.t().shape == (3, 2) and m.flatten().shape == (6,)
    assert m.sum().item() == 15 and m.sum(axis=1).tolist() == [3, 12] and m.mean(axis=0, keepdim=True).shape == (1, 3)
    assert m.exp().shape == (2, 3) and m.permute([1, 0]).shape == (3, 2) and m.unsqueeze(0).shape == (1, 2, 3)
    assert m.size() == (2, 3) and m.size(1) == 3 and m.dim() == 2


def test_repr_is_readable():
    r = repr(pg.tensor([1.0, 2.0], requires_grad=True))
    assert r.startswith("tensor([1., 2.]") and "float32" in r and "requires_grad=True" in r
    y = pg.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=<mul>" in repr(y)
    assert "..." in repr(pg.zeros(1000))


def test_no_grad_and_enable_grad():
    w = pg.tensor([1.0, 2.0], requires_grad=True)
    with pg.no_grad():
        assert not pg.is_grad_enabled()
        assert not (w * 2).requires_grad
        with pg.enable_grad():
            assert (w * 2).requires_grad
    assert pg.is_grad_enabled() and (w * 2).requires_grad

    @pg.no_grad()
    def f():
        return w * 3

    assert not f().requires_grad


def test_backward_and_grad_accumulation():
    w = pg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2, -4, 6])
    (w * 3).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [5, -1, 9])
    w.zero_grad()
    assert w.grad is None
    y = w * 2
    y.backward(pg.tensor([1.0, 1.0, 0.5]))
    np.testing.assert_allclose(w.grad.numpy(), [2, 2, 1])
    w.grad = None
    assert w.grad is None


def test_ops_functions_have_docs_and_kwargs():
    for name in ["add", "exp", "sum", "matmul", "softmax", "conv1d", "mse_loss", "cross_entropy", "layer_norm",
                 "concat", "where", "clamp", "stft_magnitude"]:
        fn = getattr(pg, name)
        assert fn.__doc__ and len(fn.__doc__) > 10, name
    x = pg.randn([2, 5])
    assert pg.softmax(x, axis=0).shape == (2, 5)
    assert pg.clamp(x, min=-0.1, max=0.1).numpy().max() <= 0.1
    assert pg.concat([x, x], dim=1).shape == (2, 10) and pg.stack(tensors=[x, x]).shape == (2, 2, 5)
    vals, idx = pg.max(x, axis=1)
    assert vals.shape == (2,) and idx.dtype == pg.int64
    assert pg.mse_loss(x, pg.zeros_like(x), reduction="sum").shape == ()
    assert pg.mse_loss(x, 0.0, reduction="none").shape == (2, 5)
    logits = pg.randn([4, 3])
    assert pg.cross_entropy(logits, pg.tensor([0, 1, 2, 1])).shape == ()
    assert pg.conv1d(pg.randn([1, 2, 8]), pg.randn([3, 2, 3]), padding=1).shape == (1, 3, 8)
    assert pg.where(x > 0, x, 0.0).numpy().min() >= 0


def test_info_functions():
    assert pg.active_isa() in ("scalar", "sse2", "avx2", "avx512")
    assert pg.isa_supported("scalar") and pg.num_threads() >= 1
    assert isinstance(pg.cuda_available(), bool)
    assert "add" in pg.registered_ops() and pg.build_info()["version"] == pg.__version__
    prev = pg.active_isa()
    try:
        pg.set_isa("scalar")
        assert pg.active_isa() == "scalar"
        a = pg.tensor(np.arange(100, dtype=np.float32))
        np.testing.assert_allclose((a * a).numpy(), np.arange(100) ** 2)
    finally:
        pg.set_isa(prev)
    with pytest.raises(ValueError):
        pg.set_isa("mmx")
    assert math.isfinite(pg.randn([3]).sum().item())


def test_self_test_runs_the_kernel_conformance_suite():
    isas = pg.supported_isas()
    assert isas[0] == "scalar" and pg.active_isa() in isas and pg.isa_request()["honoured"]
    prev = pg.active_isa()
    r = pg.self_test()
    assert r["ok"] and r["isa"] == prev and r["checks"] > 1000 and r["failures"] == [] and r["seconds"] > 0
    assert "all within bounds" in r["summary"]
    r = pg.self_test("scalar")
    assert r["ok"] and r["isa"] == "scalar"
    assert pg.active_isa() == prev  # the suite restores the ISA it switched from
    with pytest.raises(ValueError, match="unknown ISA"):
        pg.self_test("mmx")
