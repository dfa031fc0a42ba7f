"""pianograd.cuda and device= (issue 6). On a machine without a GPU the API must answer "not
available" and every request for CUDA must raise the documented RuntimeError; the GPU tests skip."""
import numpy as np
import pytest

import pianograd as pg

needs_gpu = pytest.mark.skipif(not pg.cuda.is_available(), reason="no CUDA device (or a build without CUDA)")
no_gpu = pytest.mark.skipif(pg.cuda.is_available(), reason="a CUDA device is present")

ABSENT = r"this build has no CUDA|no CUDA device present"


def test_queries_agree():
    assert isinstance(pg.cuda.is_available(), bool)
    assert pg.cuda.is_available() == (pg.cuda.device_count() > 0)
    assert pg.cuda.is_available() == pg.cuda_available()
    if not pg.cuda.is_built():
        assert pg.cuda.device_count() == 0
        assert pg.cuda.memory_stats()["allocated_bytes"] == 0


def test_device_strings():
    t = pg.zeros([2])
    assert str(t.device) == "cpu" and t.device == "cpu" and not t.is_cuda
    assert str(pg.Device("cuda")) == "cuda:0" and pg.Device("cuda:1").index == 1
    assert pg.Device("cuda:0").type == "cuda"
    for bad in ["gpu", "cuda:", "cuda:x", "CPU"]:
        with pytest.raises(ValueError, match="cannot parse"):
            pg.Device(bad)
    assert t.to("cpu") is not None and t.cpu().device == "cpu"
    assert pg.zeros([2], device="cpu").device == "cpu"
    assert pg.ones([2], device=pg.Device("cpu")).tolist() == [1.0, 1.0]


@no_gpu
def test_asking_for_cuda_raises_the_documented_error():
    t = pg.ones([3])
    with pytest.raises(RuntimeError, match=ABSENT):
        t.to("cuda")
    with pytest.raises(RuntimeError, match=ABSENT):
        t.cuda()
    for make in (
        lambda: pg.zeros([3], device="cuda"),
        lambda: pg.ones([3], device="cuda:0"),
        lambda: pg.full([3], 2.0, device="cuda"),
        lambda: pg.empty([3], device="cuda"),
        lambda: pg.randn([3], device="cuda"),
        lambda: pg.arange(4, device="cuda"),
        pg.cuda.synchronize,
        pg.cuda.Stream,
    ):
        with pytest.raises(RuntimeError, match=ABSENT):
            make()
    pg.cuda.empty_cache()  # nothing to release: never an error


@needs_gpu
def test_round_trip_and_device_keyword():
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    g = pg.tensor(a).to("cuda")
    assert g.is_cuda and str(g.device) == "cuda:0" and g.device == "cuda"
    np.testing.assert_array_equal(g.cpu().numpy(), a)
    assert g.tolist() == a.tolist()
    assert pg.zeros([2, 2], device="cuda").device == "cuda:0"
    assert pg.full([2], 3.0, device="cuda").tolist() == [3.0, 3.0]
    assert pg.randn([5], device="cuda").is_cuda


@needs_gpu
def test_numpy_of_a_cuda_tensor_says_call_cpu():
    g = pg.ones([2]).cuda()
    with pytest.raises(TypeError, match=r"cuda:0.*\.cpu\(\)"):
        g.numpy()
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        np.asarray(g)


@needs_gpu
def test_ops_and_backward_match_the_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 8)).astype(np.float64)
    w = rng.standard_normal((8, 3)).astype(np.float64)

    def run(device):
        xt = pg.tensor(x).to(device).requires_grad_(True)
        wt = pg.tensor(w).to(device).requires_grad_(True)
        y = pg.log_softmax(pg.matmul(pg.tanh(xt) * 2.0 + 1.0, wt), -1)
        loss = pg.sum(y * y)
        loss.backward()
        return loss.item(), xt.grad.cpu().numpy(), wt.grad.cpu().numpy()

    lc, gxc, gwc = run("cpu")
    lg, gxg, gwg = run("cuda")
    assert lg == pytest.approx(lc, rel=1e-10)
    np.testing.assert_allclose(gxg, gxc, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gwg, gwc, rtol=1e-9, atol=1e-12)


@needs_gpu
def test_cross_device_and_missing_kernel_errors():
    c, g = pg.ones([3]), pg.ones([3]).cuda()
    with pytest.raises(RuntimeError, match=r"add.*cpu.*cuda:0"):
        pg.add(c, g)
    with pytest.raises(RuntimeError, match="has no CUDA kernel yet"):
        pg.matmul(pg.ones([2, 1, 3, 4]).cuda(), pg.ones([1, 3, 4, 5]).cuda())  # partial batch broadcast


@needs_gpu
def test_allocator_statistics_and_streams():
    pg.cuda.synchronize()
    before = pg.cuda.memory_stats()
    for _ in range(10):
        pg.zeros([1024], device="cuda")
    after = pg.cuda.memory_stats()
    assert after["num_device_alloc"] <= before["num_device_alloc"] + 1
    assert after["num_cache_hits"] >= before["num_cache_hits"] + 9
    with pg.cuda.Stream() as s:
        y = pg.exp(pg.ones([16]).cuda())
        s.synchronize()
    assert y.tolist() == pytest.approx([np.e] * 16, rel=1e-6)
