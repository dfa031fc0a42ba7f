"""pg.NGramLM from Python (python/src/bind_ngram.cpp): NumPy and list input, normalisation, evaluation in
nats per token against a known Markov source, save/load, and the typed errors. The estimator itself is
checked against hand-worked and brute-force references in tests/models/ngram_lm_test.cpp."""
import math
import threading

import numpy as np
import pytest

import pianograd as pg


def markov_corpus(rng, vocab, n_seq, length, peak=4.0):
    """A first-order source: row a of `trans` is p(. | a); row `vocab` is the start distribution."""
    trans = np.exp(peak * rng.random((vocab + 1, vocab)))
    trans /= trans.sum(axis=1, keepdims=True)
    seqs = []
    for _ in range(n_seq):
        prev, s = vocab, np.empty(length, dtype=np.int64)
        for i in range(length):
            s[i] = prev = rng.choice(vocab, p=trans[prev])
        seqs.append(s)
    return trans, seqs


def source_nats(trans, seqs):
    vocab = trans.shape[1]
    nll = sum(-math.log(trans[a, b]) for s in seqs for a, b in zip(np.concatenate([[vocab], s[:-1]]), s))
    return nll / sum(len(s) for s in seqs)


def test_fit_evaluate_with_numpy_arrays():
    rng = np.random.default_rng(0)
    trans, seqs = markov_corpus(rng, 12, 240, 200)
    train, held_out = seqs[:200], seqs[200:]
    scores = {}
    for order in (1, 2, 3):
        lm = pg.NGramLM(12, order=order)
        lm.fit(train)
        r = lm.evaluate(held_out)
        assert r["tokens"] == 40 * 200
        assert r["nats_per_token"] == pytest.approx(r["total_nats"] / r["tokens"])
        scores[order] = r["nats_per_token"]
    h = source_nats(trans, held_out)
    assert scores[1] > scores[2] + 0.1  # the source is first-order: a bigram model captures it
    assert scores[2] == pytest.approx(h, abs=0.02)
    assert scores[3] == pytest.approx(scores[2], abs=0.02)
    # sequence_nll and log_prob tell the same story token by token.
    lm = pg.NGramLM(12, 2)
    lm.fit(train)
    s = held_out[0]
    by_token = -sum(lm.log_prob(s[:i], int(s[i])) for i in range(len(s)))
    assert lm.sequence_nll(s) == pytest.approx(by_token, rel=1e-12)


def test_list_int32_and_uint8_inputs_agree():
    seqs = [[0, 1, 2, 3, 1, 2], [2, 2, 1], []]
    a, b, c = pg.NGramLM(4, 3), pg.NGramLM(4, 3), pg.NGramLM(4, 3)
    a.fit(seqs)
    b.fit([np.asarray(s, dtype=np.int32) for s in seqs])
    c.fit(tuple(np.asarray(s, dtype=np.uint8) for s in seqs))
    for ctx in ([], [1], [0, 1], np.array([3, 1, 2])):
        np.testing.assert_array_equal(a.next_distribution(ctx), b.next_distribution(ctx))
        np.testing.assert_array_equal(a.next_distribution(ctx), c.next_distribution(ctx))
    assert (a.vocab_size, a.order) == (4, 3)
    assert a.num_ngrams > 0 and a.num_contexts > 1
    assert "NGramLM(vocab_size=4, order=3" in repr(a)


@pytest.mark.parametrize("order", [1, 2, 5, 8])
def test_distribution_sums_to_one(order):
    rng = np.random.default_rng(order)
    _, seqs = markov_corpus(rng, 30, 20, 50)
    lm = pg.NGramLM(30, order)
    lm.fit(seqs)
    for ctx in ([], seqs[0][:3], seqs[1], rng.integers(0, 30, 9)):
        p = lm.next_distribution(ctx)
        assert p.dtype == np.float64 and p.shape == (30,)
        assert abs(p.sum() - 1.0) < 1e-9
        assert (p > 0).all()
        assert math.exp(lm.log_prob(ctx, 7)) == pytest.approx(p[7], rel=1e-12)


def test_empty_corpus_is_uniform():
    lm = pg.NGramLM(5)
    lm.fit([])
    assert lm.log_prob([1, 2], 3) == pytest.approx(-math.log(5))
    r = lm.evaluate([])
    assert r["tokens"] == 0 and math.isnan(r["nats_per_token"])


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    _, seqs = markov_corpus(rng, 20, 50, 60)
    lm = pg.NGramLM(20, 4)
    lm.fit(seqs[:40])
    path = tmp_path / "lm.ngram"
    lm.save(path)
    back = pg.NGramLM.load(str(path))
    assert (back.vocab_size, back.order, back.num_ngrams) == (20, 4, lm.num_ngrams)
    assert back.evaluate(seqs[40:]) == lm.evaluate(seqs[40:])
    np.testing.assert_array_equal(back.next_distribution(seqs[45][:5]), lm.next_distribution(seqs[45][:5]))
    assert back.discounts(2) == lm.discounts(2)


def test_errors(tmp_path):
    lm = pg.NGramLM(6, 3)
    with pytest.raises(ValueError, match=r"sequence 1, position 2: token 6 outside \[0, 6\)"):
        lm.fit([[0, 1], np.array([1, 2, 6])])
    with pytest.raises(ValueError, match=r"sequence 0, position 0: token -1"):
        lm.fit([[-1]])
    with pytest.raises(ValueError, match=r"sequence 0, position 1: token 4294967296"):
        lm.fit([np.array([0, 2**32])])  # beyond int32: no silent wrap-around
    with pytest.raises(TypeError, match="integer tokens"):
        lm.fit([np.array([0.0, 1.0])])
    with pytest.raises(ValueError, match="1-D"):
        lm.fit([[[0, 1]]])
    with pytest.raises(TypeError, match="sequence of token sequences"):
        lm.fit(3)
    with pytest.raises(ValueError, match=r"evaluate: sequence 1, position 0"):
        lm.evaluate([[0], [9]])
    with pytest.raises(ValueError, match="log_prob: token 6"):
        lm.log_prob([0], 6)
    with pytest.raises(ValueError, match=r"context: position 1: token 7"):
        lm.next_distribution([0, 7])
    with pytest.raises(ValueError, match="order"):
        pg.NGramLM(6, 9)
    with pytest.raises(FileNotFoundError):
        pg.NGramLM.load(tmp_path / "missing.ngram")
    lm.fit([[0, 1, 2, 3, 4, 5]])
    lm.save(tmp_path / "ok.ngram")
    data = (tmp_path / "ok.ngram").read_bytes()
    (tmp_path / "bad.ngram").write_bytes(data[:-3])
    with pytest.raises(OSError, match="bad.ngram"):
        pg.NGramLM.load(tmp_path / "bad.ngram")


def test_concurrent_fits_agree():
    rng = np.random.default_rng(5)
    seqs = [rng.integers(0, 50, 5000) for _ in range(40)]
    models = [pg.NGramLM(50, 5) for _ in range(4)]
    threads = [threading.Thread(target=m.fit, args=(seqs,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [m.evaluate(seqs[:5]) for m in models]
    assert all(r == results[0] for r in results)
