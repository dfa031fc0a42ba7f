"""nn modules (incl. Python subclasses), optimizers, schedules, checkpoints."""
import numpy as np
import pytest

import pianograd as pg
from pianograd import nn, optim


class MLP(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        self.scale = pg.ones([1], requires_grad=True)  # a leaf requiring grad registers as a parameter

    def forward(self, x):
        return self.fc2(pg.tanh(self.fc1(x))) * self.scale


def test_python_subclass_registers_children_and_parameters():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] or set(names) == {
        "scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert len(m.parameters()) == 5 and m.num_parameters() == 2 * 16 + 16 + 16 + 1 + 1
    sd = m.state_dict()
    assert set(sd) == set(names) and sd["fc1.weight"].shape == (16, 2)
    assert "MLP" in repr(m)
    assert m(pg.zeros([3, 2])).shape == (3, 1)
    assert m.train(False) is m and not m.training and not m.child("fc1").training
    m.train()


def test_subclass_inside_sequential_is_called_from_cpp():
    class Double(nn.Module):
        def forward(self, x):
            return x * 2.0

    seq = nn.Sequential(nn.Linear(3, 3), Double(), nn.ReLU())
    assert len(seq) == 3 and isinstance(seq[1], Double)
    x = pg.randn([2, 3])
    want = pg.relu(seq[0](x) * 2.0)
    np.testing.assert_allclose(seq(x).numpy(), want.numpy(), rtol=1e-6)
    import gc
    gc.collect()
    assert seq(x).shape == (2, 3)  # the Python child survives while only C++ holds it


def test_training_reduces_loss_and_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = pg.tensor(rng.uniform(-1, 1, size=(64, 2)).astype(np.float32))
    y = pg.tensor((np.sin(3 * x.numpy()[:, :1]) * x.numpy()[:, 1:]).astype(np.float32))
    m = MLP(32)
    opt = optim.Adam(m.parameters(), lr=0.02)
    sched = optim.WarmupCosineLR(0.02, warmup_steps=5, total_steps=150)
    losses = []
    for _ in range(150):
        sched.apply(opt)
        opt.zero_grad()
        loss = pg.mse_loss(m(x), y)
        loss.backward()
        optim.clip_grad_norm(m.parameters(), 10.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    assert opt.step_count == 150 and "step" in opt.state_dict()

    path = tmp_path / "mlp.safetensors"
    m.save(path, metadata={"note": "test"})
    m2 = MLP(32)
    m2.load(path)
    np.testing.assert_array_equal(m2(x).numpy(), m(x).numpy())
    tensors, meta = pg.load_safetensors(path, with_metadata=True)
    assert meta["note"] == "test" and set(tensors) == set(m.state_dict())
    with pytest.raises(ValueError):
        MLP(8).load_state_dict(m.state_dict())  # shape mismatch names the key


def test_optimizers_and_schedules():
    w = pg.tensor([1.0, -1.0], requires_grad=True)
    for opt in [optim.SGD([w], lr=0.1, momentum=0.9), optim.AdamW([w], lr=0.1), optim.Adam([w], betas=(0.8, 0.9))]:
        before = w.numpy().copy()
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert np.all(np.abs(w.numpy()) < np.abs(before))
    opt.lr = 0.5
    assert opt.lr == 0.5
    s = optim.WarmupCosineLR(1.0, 10, 100, min_lr=0.1)
    assert s(0) < s(10) and abs(s(100) - 0.1) < 1e-9 and optim.ConstantLR(0.3)(7) == 0.3
    with pytest.raises((ValueError, TypeError)):
        optim.SGD([], lr=0.1)


def test_layers_and_init():
    assert nn.Conv1d(2, 4, 3, padding=1)(pg.randn([1, 2, 10])).shape == (1, 4, 10)
    assert nn.Conv2d(1, 2, 3)(pg.randn([1, 1, 5, 5])).shape == (1, 2, 3, 3)
    assert nn.Embedding(10, 4)(pg.tensor([[1, 2, 3]])).shape == (1, 3, 4)
    assert nn.LayerNorm([4])(pg.randn([2, 4])).shape == (2, 4)
    out, h = nn.GRU(3, 5)(pg.randn([2, 4, 3]))
    assert out.shape == (2, 4, 5) and h.shape == (1, 2, 5)
    assert nn.MultiheadAttention(8, 2, causal=True)(pg.randn([1, 4, 8])).shape == (1, 4, 8)
    assert nn.MaxPool1d(2)(pg.randn([1, 1, 8])).shape == (1, 1, 4)
    assert nn.Flatten()(pg.randn([2, 3, 4])).shape == (2, 12)
    d = nn.Dropout(0.5)
    d.eval()
    x = pg.randn([10])
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    t = pg.empty([3, 4])
    nn.init.constant_(t, 0.25)
    assert t.numpy().min() == 0.25
    nn.init.xavier_uniform_(t)
    assert np.abs(t.numpy()).max() <= np.sqrt(6 / 7) + 1e-6
    assert nn.init.calculate_gain("relu") == pytest.approx(np.sqrt(2))
