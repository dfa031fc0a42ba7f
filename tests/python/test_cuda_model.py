"""Module.to / .cuda() / .cpu() and DLPack device reporting (issue 6). The CPU-side contract runs
everywhere; the GPU tests (moving a model, a training step, kDLCUDA export/import) skip without a
device."""
import numpy as np
import pytest

import pianograd as pg

needs_gpu = pytest.mark.skipif(not pg.cuda.is_available(), reason="no CUDA device (or a build without CUDA)")
no_gpu = pytest.mark.skipif(pg.cuda.is_available(), reason="a CUDA device is present")
ABSENT = r"this build has no CUDA|no CUDA device present"


def test_module_to_cpu_is_a_no_op_keeping_identity():
    lin = pg.nn.Linear(3, 2)
    before = [p for p in lin.parameters()]
    values = [p.tolist() for p in before]
    assert lin.to("cpu") is lin and lin.cpu() is lin
    assert str(lin.device) == "cpu"
    for p, q, v in zip(before, lin.parameters(), values):
        assert p is q or p.tolist() == q.tolist()
        assert p.tolist() == v and not p.is_cuda


@no_gpu
def test_module_to_cuda_without_device_raises_and_leaves_it_unchanged():
    lin = pg.nn.Linear(3, 2)
    values = [p.tolist() for p in lin.parameters()]
    with pytest.raises(RuntimeError, match=ABSENT):
        lin.to("cuda")
    with pytest.raises(RuntimeError, match=ABSENT):
        lin.cuda()
    with pytest.raises(ValueError, match="cannot parse"):
        lin.to("gpu")
    assert [p.tolist() for p in lin.parameters()] == values
    assert all(not p.is_cuda for p in lin.parameters())
    y = lin(pg.ones([1, 3]))  # still usable on the CPU
    assert tuple(y.shape) == (1, 2)


def test_dlpack_device_of_cpu_tensors():
    t = pg.arange(6).reshape([2, 3])
    assert t.__dlpack_device__() == (1, 0)
    back = pg.from_dlpack(np.from_dlpack(t))
    assert back.tolist() == t.tolist()
    with pytest.raises(BufferError, match="cannot export"):
        t.__dlpack__(dl_device=(2, 0))


@needs_gpu
def test_module_cuda_moves_in_place_and_trains():
    pg.manual_seed(0)
    lin = pg.nn.Linear(4, 3)
    w = lin.weight
    opt = pg.optim.Adam(lin.parameters(), lr=1e-2)  # built before the move
    assert lin.cuda() is lin and w.is_cuda and str(lin.device) == "cuda:0"
    x = pg.randn([5, 4], device="cuda")
    loss = pg.sum(lin(x) * lin(x))
    loss.backward()
    opt.step()
    assert w.is_cuda and w.grad.is_cuda
    lin.cpu()
    assert not w.is_cuda


@needs_gpu
def test_transcriber_step_on_cuda_matches_cpu():
    cfg = pg.TranscriberConfig(n_fft=512, hop=160, harmonics=[0.5, 1, 2], conv_channels=[4], key_channels=6,
                               key_context_channels=4, temporal_channels=6, frame_channels=4)
    a, b = pg.Transcriber(cfg), pg.Transcriber(cfg).to("cuda")
    audio = (np.random.default_rng(0).standard_normal((2, 8000)) * 0.1).astype(np.float32)
    f = a.num_frames(8000)
    rng = np.random.default_rng(1)
    targets = {k: (rng.random((2, f, 88)) > 0.9).astype(np.float32) for k in ("onset", "frame", "offset")}
    la = pg.transcription_loss(a.forward(audio), targets).total
    lb = pg.transcription_loss(b.forward(audio), targets).total
    la.backward()
    lb.backward()
    assert lb.is_cuda and abs(la.item() - lb.item()) < 1e-4 * max(1.0, abs(la.item()))
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=2e-2, atol=2e-4, err_msg=n)


@needs_gpu
def test_dlpack_cuda_export_and_import():
    t = pg.arange(6, device="cuda").reshape([2, 3])
    assert t.__dlpack_device__() == (2, 0)
    u = pg.from_dlpack(t.__dlpack__())
    assert u.is_cuda and u.cpu().tolist() == t.cpu().tolist()
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        tt = torch.utils.dlpack.from_dlpack(t.__dlpack__())
        assert tt.is_cuda and tt.cpu().tolist() == t.cpu().tolist()
        v = pg.from_dlpack(torch.arange(4.0, device="cuda"))
        assert v.is_cuda and v.cpu().tolist() == [0.0, 1.0, 2.0, 3.0]
