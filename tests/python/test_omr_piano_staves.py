"""Synthetic piano staves (pianograd.omr.piano_staves): idiomatic keyboard writing that the encoder labels
losslessly, engraved into training strips that stay labelled under any pair budget."""
import json
import random
from pathlib import Path

import pytest

from pianograd.omr.tokens import JOIN, pitch_midi, tokens_to_notes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def staves():
    from pianograd.omr.piano_staves import piano_staves

    return piano_staves(40, seed=3)


def _units(tokens):
    """Pitches per unit (a unit ends at its duration token)."""
    out, cur = [], []
    for t in tokens:
        if pitch_midi(t) is not None:
            cur.append(pitch_midi(t))
        elif t[:1].isdigit() and cur:
            out.append(cur)
            cur = []
        elif t[:1].isdigit() or t == "r":
            cur = []
    return out


def test_staves_round_trip_through_the_encoder(staves):
    """The labels are the encoder's: every system's tokens decode to the notes music21 reads."""
    from pianograd.data.engrave import staff_segments
    from pianograd.omr.encode import segment_tokens, staff_notes

    rng = random.Random(0)
    n_segments = 0
    for staff in staves:
        assert all(b.tokens is not None for b in staff.bars), staff.piece
        whole = segment_tokens(staff.bars, 0, len(staff.bars) - 1)
        assert [n.as_tuple() for n in tokens_to_notes(whole)] == [n.as_tuple() for n in staff_notes(staff.part)]
        for seg in staff_segments(staff, rng):
            n_segments += 1
            assert [(n.pitch, float(n.onset), float(n.duration)) for n in tokens_to_notes(seg.tokens)] == \
                [tuple(x) for x in seg.notes], (staff.piece, seg.first)
    assert n_segments >= 2 * len(staves)


def test_staves_hold_keyboard_writing(staves):
    """Two voices, chords, ledger lines, accidentals off the key, ties and both clefs all occur, and the
    notes stay on the keyboard."""
    from pianograd.omr.encode import segment_tokens

    seqs = [segment_tokens(s.bars, 0, len(s.bars) - 1) for s in staves]
    flat = [t for s in seqs for t in s]
    assert sum(JOIN in s for s in seqs) >= 5, "second voices"
    assert sum(len(u) >= 3 for s in seqs for u in _units(s)) >= 20, "chords of three or more"
    assert "~" in flat, "ties"
    assert {"clef:G2", "clef:F4"} <= set(flat)
    assert len({t for t in flat if t.startswith("time:")}) >= 4
    assert len({t for t in flat if t.startswith("key:")}) >= 6
    pitches = [pitch_midi(t) for t in flat if pitch_midi(t) is not None]
    assert 21 <= min(pitches) and max(pitches) <= 108
    assert max(pitches) >= 84 and min(pitches) <= 40, "ledger lines above treble and below bass"
    assert any("#" in t for t in flat) and any("b" in t[1:] for t in flat if pitch_midi(t))


def test_staves_are_seeded(staves):
    from pianograd.omr.encode import segment_tokens
    from pianograd.omr.piano_staves import piano_staves

    again = piano_staves(3, seed=3)
    other = piano_staves(3, seed=4)
    tok = lambda s: segment_tokens(s.bars, 0, len(s.bars) - 1)  # noqa: E731
    assert [tok(s) for s in again] == [tok(s) for s in staves[:3]]
    assert [tok(s) for s in other] != [tok(s) for s in again]


def test_piano_strips_join_training_labelled_under_any_pair_budget(tmp_path, monkeypatch):
    """`piano_staves` / `piano_systems` add engraved synthetic strips to the training split only, and
    `corpus_systems` a training work engraved as a whole system (a chorale's four staves, cut per staff);
    with N = 1 the corpus keeps one labelled work while every synthetic strip keeps its label; `init`
    starts from a model file."""
    from pianograd.omr import data as omr_data
    from pianograd.omr.model import OmrNet, save_model
    from pianograd.omr.train import OmrTrainConfig, Trainer

    monkeypatch.setattr(omr_data, "CACHE", tmp_path / "cache")
    d = json.loads((ROOT / "configs" / "omr" / "tiny.json").read_text())
    d["data"].update({"piano_staves": 3, "piano_systems": 2, "corpus_systems": 1})
    d.update({"n_labelled": 1, "steps": 2})
    init = tmp_path / "init.safetensors"
    save_model(OmrNet(d["channels"], d["hidden"]), init)
    d["init"] = str(init)
    t = Trainer(OmrTrainConfig.from_dict(d), tmp_path / "run", progress=False)
    synth = [i for i, m in enumerate(t.train_set.meta) if m.get("synthetic")]
    assert len(synth) >= 3 and all(t.train_set.meta[i]["piece"].startswith("synthetic/") for i in synth)
    assert any("/grand-" in t.train_set.meta[i]["piece"] for i in synth)
    n_single = len(omr_data.build(OmrTrainConfig.from_dict(d).data, "train", progress=False))
    system = [i for i in range(n_single, len(t.train_set)) if i not in synth]
    assert system and {t.train_set.meta[i]["staff"] for i in system} == {0, 1, 2, 3}
    works = {t.train_set.meta[i]["piece"] for i in range(n_single)}
    assert {t.train_set.meta[i]["piece"] for i in system} <= works
    for i in system:  # labelled exactly when the work's single staves are
        same = next(j for j in range(n_single) if t.train_set.meta[j]["piece"] == t.train_set.meta[i]["piece"])
        assert (i in t.targets) == (same in t.targets)
    assert set(synth) <= set(t.targets)
    corpus = {t.train_set.meta[i]["piece"] for i in t.targets if i not in synth}
    assert len(corpus) == 1 and t.unlabelled
    assert all(s.shape[0] == 64 for s in t.train_set.strips)
    assert not any(m.get("synthetic") for m in t.valid_set.meta)
    assert t.run()["steps"] == 2
    # The cache holds them: a second build reads the same strips back.
    again = omr_data.build_piano(OmrTrainConfig.from_dict(d).data, progress=False)
    assert again.ids == [t.train_set.ids[i] for i in synth]
    assert omr_data.build_systems(OmrTrainConfig.from_dict(d).data, progress=False).ids == \
        [t.train_set.ids[i] for i in system]

    bad = dict(d, channels=[4, 8, 8, 8])
    with pytest.raises(ValueError, match="init model"):
        Trainer(OmrTrainConfig.from_dict(bad), tmp_path / "run2", progress=False)


def test_grand_staves_are_cut_into_labelled_strips_of_both_hands(tmp_path):
    """A braced system engraved together: one strip per staff (treble over bass), each labelled with its
    own staff's tokens, which decode to that staff's notes."""
    from pianograd.data.engrave import Engraver
    from pianograd.omr.data import OmrDataConfig, StripSet, _engrave_system_into
    from pianograd.omr.encode import segment_tokens, staff_notes
    from pianograd.omr.piano_staves import piano_systems
    from pianograd.omr.tokens import decode_ids

    systems = piano_systems(4, seed=5)
    out, eng = StripSet([], [], [], []), Engraver()
    missed = sum(_engrave_system_into(out, eng, OmrDataConfig(degrade=0.3), s, ["Bravura"]) for s in systems)
    assert missed <= 1 and len(out) >= 8
    for s in systems:
        assert [st.index for st in s.staves] == [0, 1] and s.engraved.xml.count("<part ") == 2
        whole = segment_tokens(s.staves[1].bars, 0, len(s.staves[1].bars) - 1)
        assert [n.as_tuple() for n in tokens_to_notes(whole)] == [n.as_tuple() for n in staff_notes(s.staves[1].part)]
    by_render = {}
    for i, m in enumerate(out.meta):
        by_render.setdefault((m["piece"], tuple(m["bars"])), []).append(i)
    for (piece, _), idx in by_render.items():
        assert [out.meta[i]["staff"] for i in idx] == [0, 1], piece
        treble, bass = (decode_ids(out.ids[i]) for i in idx)
        assert treble[0] == "clef:G2" and bass[0] == "clef:F4"
        for i in idx:
            assert [(n.pitch, float(n.onset), float(n.duration)) for n in tokens_to_notes(decode_ids(out.ids[i]))] \
                == [tuple(x) for x in out.notes[i]]
        assert out.strips[idx[0]].shape[0] == out.strips[idx[1]].shape[0] == 64


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "omr").glob("*.json")), ids=lambda p: p.name)
def test_every_omr_config_parses(path):
    """The shipped recipe's configs load into OmrTrainConfig (a renamed field fails here, not an hour in),
    and a stage that starts from weights names the stage before it or the shipped model."""
    from pianograd.omr.train import OmrTrainConfig

    cfg = OmrTrainConfig.from_dict(json.loads(path.read_text()))
    assert cfg.steps > 0 and cfg.data.fonts
    if cfg.init:
        assert cfg.init.endswith("model.safetensors") or cfg.init.endswith("omr.safetensors")


def test_style_adds_silent_second_voices_short_rests_and_double_accidentals():
    """The later stages' style: second voices that fall silent (an unprinted rest, encoded as an explicit
    '+' advance), sixteenth rests and double sharps or flats, all still round-tripping."""
    from pianograd.omr.encode import segment_tokens, staff_notes
    from pianograd.omr.piano_staves import PianoStyle, piano_staves

    plain = [segment_tokens(s.bars, 0, len(s.bars) - 1) for s in piano_staves(30, seed=9)]
    staves = piano_staves(30, seed=9, style=PianoStyle(short_rests=3.0, double_accidentals=0.4, hidden_rests=0.5))
    seqs = [segment_tokens(s.bars, 0, len(s.bars) - 1) for s in staves]
    for s, seq in zip(staves, seqs):
        assert [n.as_tuple() for n in tokens_to_notes(seq)] == [n.as_tuple() for n in staff_notes(s.part)]
    count = lambda ss, f: sum(f(t) for s in ss for t in s)  # noqa: E731
    assert count(seqs, lambda t: t.startswith("+")) > count(plain, lambda t: t.startswith("+"))
    assert count(seqs, lambda t: "##" in t or "bb" in t) > count(plain, lambda t: "##" in t or "bb" in t)
    short_rest = lambda ss: sum(a == "r" and b in ("1/4", "1/6", "1/8") for s in ss for a, b in zip(s, s[1:]))  # noqa: E731
    assert short_rest(seqs) > short_rest(plain)


def _off_key_repeats(seqs):
    """Bars in which one pitch spelled off the key signature sounds more than once (the accidental is
    printed once, then read from memory)."""
    sharps = "FCGDAEB"
    n = 0
    for seq in seqs:
        fifths = 0
        bar = []
        for t in seq + ["|"]:
            if t.startswith("key:"):
                fifths = int(t[4:])
            if t == "|":
                off = [p for p in bar if p[1:-1] != ("#" if p[0] in sharps[:max(fifths, 0)] else
                                                      "b" if p[0] in sharps[::-1][:max(-fifths, 0)] else "")]
                n += len(off) != len(set(off))
                bar = []
            elif pitch_midi(t) is not None:
                bar.append(t)
    return n


def test_harmonic_style_holds_alterations_through_the_bar():
    """piano_harmonic: a bar's harmony alters a letter wherever it sounds (a minor key's leading tone, a
    secondary dominant's degree), so an accidental recurs within a bar far more often than independent
    per-note alterations make it; the staves still round-trip."""
    from pianograd.omr.encode import segment_tokens, staff_notes
    from pianograd.omr.piano_staves import PianoStyle, piano_staves

    plain = [segment_tokens(s.bars, 0, len(s.bars) - 1) for s in piano_staves(30, seed=9)]
    staves = piano_staves(30, seed=9, style=PianoStyle(harmonic=0.6))
    seqs = [segment_tokens(s.bars, 0, len(s.bars) - 1) for s in staves]
    for s, seq in zip(staves, seqs):
        assert [n.as_tuple() for n in tokens_to_notes(seq)] == [n.as_tuple() for n in staff_notes(s.part)]
    assert _off_key_repeats(seqs) >= 2 * max(_off_key_repeats(plain), 10)
    # In a minor key (odd key:N as the generator names keys) the raised seventh shows up spelled as such,
    # e.g. G# in A minor: a letter sharper than the key gives it.
    minor = [s for s in seqs if int(next(t for t in s if t.startswith("key:"))[4:]) % 2]
    assert minor and sum(_off_key_repeats([s]) > 0 for s in minor) >= len(minor) // 3
