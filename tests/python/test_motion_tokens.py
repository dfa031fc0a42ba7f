"""pg.MotionTokenizer (models/motion_tokens.h): the Python surface, and lossless round trips within the
quantisation on humanised corpus performances."""
from __future__ import annotations

import numpy as np
import pytest

import pianograd as pg
from pianograd.data import HumanizeConfig, load_score, perform


def test_vocabulary_and_names():
    t = pg.MotionTokenizer()
    assert t.vocab_size == 313 and (t.PAD, t.BOS, t.EOS) == (0, 1, 2)
    assert t.name(t.note_on(60)) == "NOTE_ON(60)" and t.kind(t.shift(3)) == pg.TokenKind.shift
    f = t.fields()
    assert f.shape == (313,) and f[t.note_on(21)] == int(pg.TokenField.pitch) and f[t.pedal_on] == int(pg.TokenField.pedal)
    assert pg.MotionTokenizer(time_step=0.02, max_shift_steps=50, velocity_bins=16).vocab_size == 3 + 176 + 50 + 16 + 2
    with pytest.raises(ValueError):
        pg.MotionTokenizer(velocity_bins=0)


def test_encode_decode_from_python():
    t = pg.MotionTokenizer()
    p = pg.Performance([(60, 0.0, 0.5, 80), (64, 0.25, 1.0, 70)], pedal=[(0.1, 1.0), (0.8, 0.0)])
    x = t.encode(p, bos=True, eos=True)
    assert x.dtype == np.int32 and x[0] == t.BOS and x[-1] == t.EOS
    assert t.decode(x) == t.quantize(p) and t.seconds(x) == pytest.approx(1.0)
    assert t.decode(list(x)) == t.decode(x.astype(np.int64))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        t.decode([5, 400])
    with pytest.raises(TypeError):
        t.decode(np.array([0.5]))


@pytest.mark.parametrize("piece", ["bach/bwv1.6.mxl", "bach/bwv10.7.mxl", "bach/bwv101.7.mxl"])
def test_corpus_performances_round_trip(piece):
    t = pg.MotionTokenizer()
    perf, _ = perform(load_score(piece), "chorale", seed=3, cfg=HumanizeConfig())
    q = t.decode(t.encode(perf))
    assert len(q.notes) == len(perf.notes) and q == t.quantize(q)
    for a, b in zip(sorted(perf.notes, key=lambda n: (n.key, n.onset)), sorted(q.notes, key=lambda n: (n.key, n.onset))):
        assert a.key == b.key and abs(a.onset - b.onset) <= 0.005 + 1e-9
        assert b.velocity == t.bin_velocity(t.velocity_bin(a.velocity))
