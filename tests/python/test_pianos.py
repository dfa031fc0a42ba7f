"""More pianos in training (issue 15, item 4): any sound font and preset renders the data set, the two
sound fonts reserved for judging are refused whatever they are called, and the trainer reads the same
pieces played by several pianos without letting a held-out piece in."""
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import pianograd as pg
from pianograd.data import DataConfig, prepare
from pianograd.data.render import (RenderConfig, ReservedSoundFont, _without_program_changes,
                                   check_not_reserved, find_fluidsynth, find_soundfont, render_midi_array,
                                   renderer_id)
from pianograd.transcription.config import TrainConfig
from pianograd.transcription.train import Trainer, extra_manifests

HAVE_FLUID = find_fluidsynth() is not None and find_soundfont() is not None
needs_fluid = pytest.mark.skipif(not HAVE_FLUID, reason="FluidSynth or a GM SoundFont is not installed")
TINY = {"key_channels": 8, "temporal_channels": 8, "frame_channels": 4}


def two_notes():
    return pg.Performance([(60, 0.1, 0.6, 80), (64, 0.3, 0.9, 60)]).quantized()


@pytest.mark.parametrize("name", ["MuseScore_General.sf3", "musescore-general-lossless.sf2", "TimGM6mb.sf2",
                                  "FluidR3_GM+timgm6mb.sf2"])
def test_reserved_sound_fonts_are_refused_by_name(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"RIFF")
    with pytest.raises(ReservedSoundFont, match="reserved for judging"):
        check_not_reserved(str(f))
    with pytest.raises(ReservedSoundFont):
        render_midi_array(tmp_path / "x.mid", 1.0, RenderConfig(soundfont=str(f)))


def test_a_link_to_a_reserved_sound_font_is_refused_too(tmp_path):
    target = tmp_path / "timgm6mb.sf2"
    target.write_bytes(b"RIFF")
    link = tmp_path / "piano.sf2"
    link.symlink_to(target)
    with pytest.raises(ReservedSoundFont, match="timgm6mb"):
        check_not_reserved(str(link))
    assert check_not_reserved(str(tmp_path / "FluidR3_GM.sf2")) == str(tmp_path / "FluidR3_GM.sf2")


def test_a_missing_sound_font_names_the_packages_that_bring_pianos(tmp_path):
    from pianograd.data.render import FluidSynthMissing
    with pytest.raises(FluidSynthMissing, match="csound-soundfont"):
        render_midi_array(tmp_path / "x.mid", 1.0, RenderConfig(soundfont=str(tmp_path / "none.sf2")))


def test_program_changes_are_stripped_and_note_times_kept(tmp_path):
    import mido

    src = tmp_path / "p.mid"
    two_notes().to_midi(src, program=5)
    dst = _without_program_changes(src, str(tmp_path / "q.mid"))

    def events(path):
        t, out = 0, []
        for msg in mido.MidiFile(str(path)).tracks[0]:
            t += msg.time
            out.append((t, msg.type, getattr(msg, "note", None)))
        return out
    before, after = events(src), events(dst)
    assert any(e[1] == "program_change" for e in before) and not any(e[1] == "program_change" for e in after)
    assert [e for e in before if e[1].startswith("note")] == [e for e in after if e[1].startswith("note")]
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    with pytest.raises(ValueError, match="bad.mid"):
        _without_program_changes(bad, str(tmp_path / "r.mid"))


@needs_fluid
def test_selecting_a_preset_sounds_like_the_files_own_program_change(tmp_path):
    sf2 = find_soundfont()
    perf = two_notes()
    perf.to_midi(tmp_path / "p0.mid", program=0)
    perf.to_midi(tmp_path / "p3.mid", program=3)
    by_file = render_midi_array(tmp_path / "p3.mid", 1.0, RenderConfig(reverb=False))
    # the file says program 0; the selected preset (3, honky-tonk) wins
    selected = render_midi_array(tmp_path / "p0.mid", 1.0, RenderConfig(reverb=False, soundfont=sf2, program=3))
    grand = render_midi_array(tmp_path / "p0.mid", 1.0, RenderConfig(reverb=False))
    np.testing.assert_array_equal(selected, by_file)
    assert np.abs(selected - grand).max() > 0.1 * np.abs(grand).max()


@needs_fluid
def test_renderer_id_keeps_old_cache_keys_and_tells_presets_apart():
    sf2 = find_soundfont()
    plain = renderer_id(RenderConfig())
    assert set(plain["cfg"]) == {"sample_rate", "gain", "reverb", "chorus", "tail_s", "program"}
    # the same file named explicitly is the same renderer; another bank is not
    assert renderer_id(RenderConfig(soundfont=sf2)) == plain
    assert renderer_id(RenderConfig(soundfont=sf2, bank=8)) != plain


# ---------------------------------------------------------------------------------------------------
# the trainer over several renderings


@pytest.fixture(scope="module")
def renderings(tmp_path_factory):
    if not HAVE_FLUID:
        pytest.skip("FluidSynth is not installed")
    root = tmp_path_factory.mktemp("pianos")
    base = DataConfig(name="tiny", pieces=4, seed=7, n_pairs=1, categories=("chorale",), excerpt_s=3.0,
                      min_notes=4)
    prepare(base, root / "grand", jobs=1, progress=False)
    prepare(replace(base, render=replace(base.render, program=1)), root / "bright", jobs=1, progress=False)
    prepare(replace(base, seed=8, audio=False), root / "other_split", jobs=1, progress=False)  # splits only
    return root


def tiny_cfg(root, out, **kw):
    base = TrainConfig(data=str(root / "grand"), n_pairs=1, model=TINY, steps=2, batch=2, segment_s=1.0,
                       lr=1e-2, warmup_steps=1, synthetic=False, out=str(out), checkpoint_every=1, log_every=1,
                       threads=1)
    return replace(base, **kw)


@needs_fluid
def test_extra_renderings_join_the_real_pairs_and_augmentation_is_resumable(renderings, tmp_path):
    cfg = tiny_cfg(renderings, tmp_path / "a", extra_data=[str(renderings / "bright")],
                   augment={"probability": 1.0})
    tr = Trainer(cfg, quiet=True)
    one = Trainer(tiny_cfg(renderings, tmp_path / "b"), quiet=True)
    assert len(tr.real) == 2 * len(one.real) > 0
    a, b = tr.real.items, one.real.items
    assert [e.id for e in a[:len(b)]] == [e.id for e in a[len(b):]]  # the same excerpts, another piano
    assert not np.array_equal(tr.real.audio(0), tr.real.audio(len(b)))
    assert "augmenter" in tr._data_rngs()
    s = tr.run()
    assert s["steps"] == 2 and all(np.isfinite(r["total"]) for r in s["log"])
    # a resumed run draws the same augmented batches as an uninterrupted one
    first = Trainer(replace(cfg, out=str(tmp_path / "c"), steps=2), quiet=True)
    first.run(stop_at=1)
    resumed = Trainer(replace(cfg, out=str(tmp_path / "c"), steps=2), quiet=True)
    assert resumed.step == 1
    resumed.run()
    np.testing.assert_allclose(json.loads((tmp_path / "c" / "log.jsonl").read_text().splitlines()[-1])["total"],
                               s["log"][-1]["total"], rtol=1e-5)


@needs_fluid
def test_a_rendering_with_other_splits_is_refused(renderings, tmp_path):
    cfg = tiny_cfg(renderings, tmp_path / "x", extra_data=[str(renderings / "other_split")])
    from pianograd.data import load_manifest
    with pytest.raises(ValueError, match="same preset and seed"):
        extra_manifests(cfg, load_manifest(renderings / "grand"))
    with pytest.raises(FileNotFoundError, match="piano_<name>.json"):
        extra_manifests(replace(cfg, extra_data=[str(tmp_path / "nothing")]), load_manifest(renderings / "grand"))
    with pytest.raises(ValueError, match="real is off"):
        Trainer(replace(cfg, extra_data=[str(renderings / "bright")], real=False, synthetic=True,
                        synth_pool_pieces=0, soup_fraction=1.0), quiet=True)
