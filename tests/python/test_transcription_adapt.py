"""`pianograd adapt` (issue 15, item 5) on a tiny configuration: unlabelled recordings of a "new piano" (our
piano, re-parameterised) adapt a small transcriber through the synth loop; the files, the fitted piano,
the inherited decoding thresholds, the CLI and bad input."""
import json

import numpy as np
import pytest

import pianograd as pg
from pianograd.transcription.adapt import AudioSource, adapt, audio_files, load_clips

SR = 16000.0


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Three short phrases played by a detuned, darker piano (a stand-in for an instrument h never heard)."""
    d = tmp_path_factory.mktemp("newpiano")
    piano = pg.Piano(SR)
    piano["tuning_cents"] = pg.from_numpy(piano["tuning_cents"].numpy() + 20.0)
    piano["brightness"] = pg.from_numpy(piano["brightness"].numpy() - 0.5)
    rng = np.random.default_rng(5)
    for i in range(3):
        notes = [(int(k), 0.1 + 0.3 * j, 0.4 + 0.3 * j, int(v))
                 for j, (k, v) in enumerate(zip(rng.integers(40, 80, 8), rng.integers(40, 110, 8)))]
        pg.set_grad_enabled(False)
        try:
            y = piano.render(pg.Performance(notes), SR).numpy()
        finally:
            pg.set_grad_enabled(True)
        sub = d / ("sub" if i == 2 else "")
        sub.mkdir(exist_ok=True)
        pg.write_audio(str(sub / f"take{i}.wav"), (0.5 * y / np.abs(y).max()).astype(np.float32), int(SR))
    (d / "notes.txt").write_text("not audio, skipped by the folder scan")
    return d


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    m = pg.Transcriber(pg.TranscriberConfig(key_channels=8, temporal_channels=8, frame_channels=4, seed=3))
    path = tmp_path_factory.mktemp("model") / "small.safetensors"
    m.save(str(path))
    path.with_name(path.name + ".decode.json").write_text(json.dumps({"onset_threshold": 0.4, "tuned_on": "x"}))
    return path


def test_audio_files_and_clips(recordings, tmp_path):
    files = audio_files([recordings])
    # recursive, audio files only, sorted by path
    assert [str(f.relative_to(recordings)) for f in files] == ["sub/take2.wav", "take0.wav", "take1.wav"]
    clips = load_clips(files, SR, max_seconds=3.0)
    assert abs(sum(len(c) for c in clips) / SR - 3.0) < 1e-3  # capped at max_seconds, in file order
    with pytest.raises(FileNotFoundError, match="no such file"):
        audio_files([recordings / "missing.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no audio files"):
        audio_files([tmp_path / "empty"])


def test_audio_source_segments(recordings, small_model):
    model = pg.Transcriber.load(str(small_model))
    src = AudioSource(load_clips(audio_files([recordings]), SR, 60.0), model, np.random.default_rng(1))
    seg = src.segment(8000, False)
    assert seg.audio.shape == (8000,) and seg.rolls is None and np.abs(seg.audio).max() > 0
    with pytest.raises(ValueError, match="no labels"):
        src.segment(8000, True)
    with pytest.raises(ValueError, match="no audio"):
        AudioSource([], model)


def test_adapt_trains_the_model_and_fits_the_piano(recordings, small_model, tmp_path):
    out = tmp_path / "adapted" / "m2.safetensors"
    s = adapt([recordings], out, model=small_model, minutes=0.15, threads=1, quiet=True,
              overrides={"batch": 2, "segment_s": 1.0, "loop_segment_s": 1.0, "loop_batch": 1,
                         "loop_onset_threshold": 0.02})  # an untrained model: weak onsets must still render
    assert s["steps"] >= 1 and s["files"] == 3 and out.is_file()
    before, after = pg.Transcriber.load(str(small_model)), pg.Transcriber.load(str(out))
    changed = [k for k, v in before.state_dict().items()
               if not np.array_equal(v.numpy(), after.state_dict()[k].numpy())]
    assert changed, "adaptation left every weight as it was"
    piano = pg.Piano.load(s["piano"])
    moved = [k for k, v in pg.Piano(SR).tensors.items()
             if k in piano.tensors and v.numpy().shape == piano[k].numpy().shape
             and not np.allclose(v.numpy(), piano[k].numpy())]
    assert moved, "the piano's parameters did not move toward the recordings"
    decode = json.loads(out.with_name(out.name + ".decode.json").read_text())
    assert decode["onset_threshold"] == 0.4 and decode["tuned_on"].startswith("inherited from small.safetensors")
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".adapt-")]  # the work folder is gone


def test_adapt_cli_and_bad_input(recordings, small_model, tmp_path, capsys):
    from pianograd.cli import main

    out = tmp_path / "cli.safetensors"
    assert main(["adapt", "--audio", str(recordings / "take0.wav"), "--out", str(out), "--model", str(small_model),
                 "--minutes", "0.05", "--threads", "1", "--quiet"]) == 0
    assert "adapted on" in capsys.readouterr().out and out.is_file()
    (tmp_path / "junk.wav").write_bytes(b"RIFF....WAVEjunk")
    assert main(["adapt", "--audio", str(tmp_path / "junk.wav"), "--out", str(out), "--model", str(small_model)]) == 1
    err = capsys.readouterr().err
    assert "junk.wav" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="at least 2 s"):
        short = tmp_path / "short.wav"
        pg.write_audio(str(short), np.zeros(8000, np.float32), 16000)
        adapt([short], out, model=small_model, minutes=0.05)
    with pytest.raises(FileNotFoundError, match="model"):
        adapt([recordings], out, model=tmp_path / "none.safetensors")
    with pytest.raises(ValueError, match="minutes"):
        adapt([recordings], out, model=small_model, minutes=0)


def test_adapt_replays_a_data_sets_labelled_pairs(recordings, small_model, tmp_path):
    import shutil

    from pianograd.data import DataConfig, prepare

    if shutil.which("fluidsynth") is None:
        pytest.skip("the FluidSynth program is not installed")
    data = tmp_path / "replay"
    prepare(DataConfig(name="replay", pieces=4, seed=7, n_pairs=1, categories=("chorale",), excerpt_s=3.0,
                       min_notes=4), data, jobs=1, progress=False)
    out = tmp_path / "replayed.safetensors"
    s = adapt([recordings], out, model=small_model, minutes=0.1, threads=1, quiet=True, replay=data,
              overrides={"batch": 2, "segment_s": 1.0, "loop_segment_s": 1.0, "loop_batch": 1})
    assert s["steps"] >= 1 and out.is_file()
    with pytest.raises(FileNotFoundError):
        adapt([recordings], out, model=small_model, minutes=0.1, replay=tmp_path / "no_data")
