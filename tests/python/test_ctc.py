"""pg.ctc_loss, pg.ctc_greedy_decode and pg.ctc_beam_decode from Python (python/src/bind_ctc.cpp).

The loss and its gradient are compared with golden values from PyTorch (tests/data/ctc/torch_reference.json,
written by make_torch_reference.py there: an independent implementation, not ours). The brute-force checks
over every alignment path live in the C++ tests (tests/autodiff/test_ctc.cpp, tests/models/ctc_decode_test.cpp);
here a small Python enumeration checks the beam search end to end, with and without a Python prior."""
import itertools
import json
import math
import pathlib
import threading

import numpy as np
import pytest

import pianograd as pg

REF = pathlib.Path(__file__).resolve().parents[1] / "data" / "ctc" / "torch_reference.json"


def torch_cases():
    return json.loads(REF.read_text())["cases"]


@pytest.mark.parametrize("case", torch_cases(), ids=lambda c: c["name"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_torch_reference(case, dtype):
    logits = pg.tensor(np.array(case["logits"], dtype=dtype), requires_grad=True)
    loss = pg.ctc_loss(logits, np.array(case["targets"]), np.array(case["input_lengths"]),
                       np.array(case["target_lengths"]), blank=case["blank"], reduction="none")
    want = np.array([math.inf if v == "inf" else v for v in case["loss"]])
    got = loss.numpy().astype(np.float64)
    finite = np.isfinite(want)
    assert np.array_equal(np.isfinite(got), finite)
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got[finite], want[finite], rtol=tol)
    loss.backward(pg.tensor(np.ones(len(want), dtype=dtype)))
    np.testing.assert_allclose(logits.grad.numpy(), np.array(case["grad"]), atol=1e-5 if dtype == "float32" else 1e-10)


def test_reductions_lists_and_int32():
    case = torch_cases()[0]
    x = pg.tensor(np.array(case["logits"]))
    tl = np.array(case["target_lengths"], dtype=np.int32)
    per = np.array([v for v in case["loss"]], dtype=np.float64)
    mean = pg.ctc_loss(x, case["targets"], case["input_lengths"], tl)  # lists and int32 arrays are accepted
    assert mean.shape == ()
    assert mean.item() == pytest.approx(np.mean(per / np.maximum(tl, 1)), rel=1e-12)
    total = pg.ctc_loss(x, pg.tensor(np.array(case["targets"], dtype=np.int32)), case["input_lengths"], tl,
                        reduction="sum")
    assert total.item() == pytest.approx(per.sum(), rel=1e-12)


def test_zero_infinity():
    case = next(c for c in torch_cases() if "inf" in c["loss"])
    x = pg.tensor(np.array(case["logits"]), requires_grad=True)
    args = (case["targets"], case["input_lengths"], case["target_lengths"])
    assert math.isinf(pg.ctc_loss(x, *args, reduction="sum").item())
    loss = pg.ctc_loss(x, *args, reduction="none", zero_infinity=True)
    assert loss.numpy()[1] == 0.0 and np.isfinite(loss.numpy()).all()
    loss.sum().backward()
    g = x.grad.numpy()
    assert np.all(g[1] == 0.0) and np.abs(g[0]).max() > 0


@pytest.mark.parametrize("call, exc, part", [
    (lambda x: pg.ctc_loss(x[0], [[1, 2]], [5], [2]), ValueError, "logits must be [B,T,C]"),
    (lambda x: pg.ctc_loss(x, [[1, 2]], [6], [2]), ValueError, "input_lengths[0] = 6 out of range"),
    (lambda x: pg.ctc_loss(x, [[1, 2]], [5], [3]), ValueError, "target_lengths[0] = 3"),
    (lambda x: pg.ctc_loss(x, [[1, 7]], [5], [2]), IndexError, "targets[0, 1] = 7 out of range [0, C = 4)"),
    (lambda x: pg.ctc_loss(x, [[1, 0]], [5], [2]), ValueError, "equals the blank"),
    (lambda x: pg.ctc_loss(x, [[1, 2]], [5, 5], [2]), ValueError, "input_lengths has batch size 2"),
    (lambda x: pg.ctc_loss(x, [[1.5, 2.0]], [5], [2]), TypeError, "targets must be int32 or int64"),
    (lambda x: pg.ctc_loss(x, [[1, 2]], [5], [2], reduction="avg"), ValueError, "reduction must be"),
    (lambda x: pg.ctc_loss(x, [[1, 2]], [5], [2], blank=9), IndexError, "blank 9"),
    (lambda x: pg.ctc_loss(pg.tensor(np.full((1, 5, 4), np.nan, np.float32)), [[1, 2]], [5], [2]), ValueError,
     "must be finite"),
    (lambda x: pg.ctc_greedy_decode(x, [9]), ValueError, "input_lengths[0] = 9"),
    (lambda x: pg.ctc_beam_decode(x), ValueError, "logits must be [T,C]"),
    (lambda x: pg.ctc_beam_decode(x[0], length=8), ValueError, "length 8 exceeds the 5 frames"),
    (lambda x: pg.ctc_beam_decode(x[0], beam=0), ValueError, "beam must be >= 1"),
])
def test_errors_are_typed(call, exc, part):
    x = pg.tensor(np.zeros((1, 5, 4), np.float32))
    with pytest.raises(exc) as info:
        call(x)
    assert part in str(info.value)


@pytest.mark.skipif(not pg.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensor_raises_device_error():
    x = pg.tensor(np.zeros((1, 5, 4), np.float32)).cuda()
    with pytest.raises(RuntimeError, match="ctc_loss has no CUDA kernel"):
        pg.ctc_loss(x, [[1, 2]], [5], [2])


def test_greedy_decode():
    path = [0, 2, 2, 0, 2, 1, 1, 3, 0]
    x = np.full((2, len(path), 4), -1.0, np.float32)
    x[0, np.arange(len(path)), path] = 2.0
    x[1, np.arange(len(path)), [3, 3, 0, 3, 1, 1, 0, 0, 0]] = 2.0
    assert pg.ctc_greedy_decode(x, [9, 6]) == [[2, 2, 1, 3], [3, 3, 1]]
    assert pg.ctc_greedy_decode(pg.tensor(x), np.array([3, 0], np.int32), blank=3) == [[0, 2], []]


def label_sequence_log_probs(lp, blank):
    """ln p(labels) for every label sequence, by enumerating all alignment paths of lp [T,C]."""
    T, C = lp.shape
    out = {}
    for path in itertools.product(range(C), repeat=T):
        labels, prev = [], None
        for s in path:
            if s != blank and s != prev:
                labels.append(s)
            prev = s
        p = math.exp(sum(lp[t, s] for t, s in enumerate(path)))
        out[tuple(labels)] = out.get(tuple(labels), 0.0) + p
    return {k: math.log(v) for k, v in out.items()}


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("seed", range(4))
def test_beam_decode_equals_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal((5, 3))
    exact = label_sequence_log_probs(log_softmax(x), 0)
    got = pg.ctc_beam_decode(pg.tensor(x), beam=1000, prune_log_prob=-math.inf)
    assert len(got) == len(exact)
    for labels, score in got:
        assert score == pytest.approx(exact[tuple(labels)], abs=1e-10)
    best = max(exact, key=exact.get)
    assert tuple(pg.ctc_beam_decode(x, beam=8)[0][0]) == best
    # length limits the frames read
    assert pg.ctc_beam_decode(x, length=2)[0] == pg.ctc_beam_decode(x[:2])[0]


def test_beam_prior_hook_changes_the_result():
    lp = np.log(np.array([[0.1, 0.5, 0.4]]))
    assert pg.ctc_beam_decode(lp)[0][0] == [1]
    calls = []

    def prefer_two(prefix, nxt):
        calls.append((list(prefix), nxt))
        return 0.0 if nxt == 2 else math.log(0.25)

    best, score = pg.ctc_beam_decode(lp, prior=prefer_two, prior_weight=1.0)[0]
    assert best == [2] and score == pytest.approx(math.log(0.4), abs=1e-6)
    assert sorted(calls) == [([], 1), ([], 2)]
    # The prefix passed is the one being extended.
    rng = np.random.default_rng(0)
    seen = []
    pg.ctc_beam_decode(rng.standard_normal((6, 4)), prior=lambda p, n: seen.append(list(p)) or 0.0,
                       prior_weight=0.5)
    assert any(len(p) >= 2 for p in seen)


def test_beam_prior_exception_propagates():
    def broken(prefix, nxt):
        raise KeyError("no such token")

    with pytest.raises(KeyError, match="no such token"):
        pg.ctc_beam_decode(np.zeros((3, 3)), prior=broken, prior_weight=1.0)


def test_decoders_and_loss_run_from_threads():
    """The loss releases the GIL for large inputs and a Python prior re-acquires it: no deadlock."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 200, 50)).astype(np.float32)
    tg = rng.integers(1, 50, size=(8, 40))
    results = {}

    def loss():
        results["loss"] = pg.ctc_loss(x, tg, [200] * 8, [40] * 8).item()

    def beam():
        results["beam"] = pg.ctc_beam_decode(x[0, :30], prior=lambda p, n: -0.1 * len(p), prior_weight=1.0)

    threads = [threading.Thread(target=f) for f in (loss, beam, loss)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert math.isfinite(results["loss"]) and len(results["beam"]) == 8
