"""The transcription path end to end on a tiny configuration (issue 5): data -> synthetic pairs -> training
with every signal (real pairs, synthetic pairs, synth loop with a learning piano) -> checkpoints and
resume -> evaluation report -> the experiment -> `pianograd transcribe`."""
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

import pianograd as pg
from pianograd.data import DataConfig, prepare
from pianograd.transcription.config import TrainConfig
from pianograd.transcription.sources import rolls_to_targets
from pianograd.transcription.synthetic import SyntheticSource, note_soup, random_piano
from pianograd.transcription.train import Trainer, synth_loop_loss, train

HAVE_FLUID = shutil.which("fluidsynth") is not None
needs_fluid = pytest.mark.skipif(not HAVE_FLUID, reason="the FluidSynth program is not installed")
TINY_MODEL = {"key_channels": 8, "temporal_channels": 8, "frame_channels": 4}


@pytest.fixture(scope="module")
def data(tiny_transcription_data):
    return tiny_transcription_data("tiny")


def tiny_cfg(data, out, **kw):
    base = TrainConfig(data=str(data), n_pairs=1, model=TINY_MODEL, steps=3, batch=2, segment_s=1.0, lr=1e-2,
                       warmup_steps=1, synth_pool_pieces=0, soup_fraction=1.0, loop_batch=1, loop_segment_s=0.5,
                       out=str(out), checkpoint_every=2, log_every=1, threads=1)
    return replace(base, **kw)


def test_note_soups_are_valid_and_cover_the_keyboard():
    rng = np.random.default_rng(0)
    keys = set()
    for _ in range(20):
        p = note_soup(rng, 4.0)
        p.validate()
        pg.Performance(p).validate()  # the C++ side agrees
        keys |= {n.key for n in p.notes}
        per_key = {}
        for n in sorted(p.notes, key=lambda n: n.onset):
            assert n.onset >= per_key.get(n.key, -1.0), "a key sounds twice at once"
            per_key[n.key] = n.offset
    assert min(keys) < 36 and max(keys) > 90


def test_random_pianos_differ_and_stay_valid():
    rng = np.random.default_rng(1)
    a, b = random_piano(rng, 16000.0), random_piano(rng, 16000.0)
    a.validate()
    b.validate()
    assert not np.allclose(a["tuning_cents"].numpy(), b["tuning_cents"].numpy())
    assert not np.allclose(a["log_B"].numpy(), pg.Piano()["log_B"].numpy())


def test_synthetic_segments_are_labelled_on_the_model_grid():
    m = pg.Transcriber(pg.TranscriberConfig(**TINY_MODEL))
    src = SyntheticSource(m, np.random.default_rng(2))
    seg = src.segment(16000)
    assert seg.audio.shape == (16000,) and seg.audio.dtype == np.float32 and np.abs(seg.audio).max() > 0.1
    F = m.num_frames(16000)
    for k in ("onset", "frame", "offset", "velocity"):
        assert seg.rolls[k].shape == (F, 88)
    assert seg.rolls["onset"].sum() > 0 and seg.rolls["frame"].sum() >= seg.rolls["onset"].sum()
    t = rolls_to_targets([seg.rolls, seg.rolls])
    assert t["velocity"].shape == (2, F, 88) and float(t["velocity"].numpy().max()) <= 1.0


def test_synth_loop_gradient_reaches_the_model_and_the_piano():
    m = pg.Transcriber(pg.TranscriberConfig(**TINY_MODEL))
    piano = pg.Piano(16000.0)
    params = piano.parameters()  # switches the piano's tensors to requires_grad, as learn_piano does
    x = pg.from_numpy(SyntheticSource(m, np.random.default_rng(3)).segment(8000).audio[None, :])
    cfg = TrainConfig(loop_onset_threshold=0.02)  # the untrained onset head sits near sigmoid(-3) = 0.047
    loss = synth_loop_loss(m, piano, x, cfg)
    assert np.isfinite(loss.item()) and loss.item() > 0
    loss.backward()
    g_model = sum(float(np.abs(p.grad.numpy()).sum()) for p in m.parameters() if p.grad is not None)
    g_piano = sum(float(np.abs(p.grad.numpy()).sum()) for p in params if p.grad is not None)
    assert g_model > 0 and g_piano > 0


@needs_fluid
def test_training_with_every_signal_checkpoints_and_resumes(data, tmp_path):
    cfg = tiny_cfg(data, tmp_path / "run", real=True, synthetic=True, synth_loop=True, learn_piano=True,
                   loop_onset_threshold=0.02)
    s = train(cfg, quiet=True)
    assert s["steps"] == 3
    run = tmp_path / "run"
    for f in ("model.safetensors", "piano.safetensors", "log.jsonl", "checkpoint/manifest.json",
              "checkpoint/optim.safetensors", "checkpoint/piano_optim.safetensors"):
        assert (run / f).is_file(), f
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(np.isfinite(r["loop"]) for r in log)
    learned = pg.Piano.load(str(run / "piano.safetensors"))
    assert not np.allclose(learned["log_b1"].numpy(), pg.Piano()["log_b1"].numpy())
    # the checkpoint is found again: same config resumes at its step, a different one is refused
    assert Trainer(cfg, quiet=True).step == 3
    assert Trainer(replace(cfg, time_budget_s=60.0, threads=2), quiet=True).step == 3  # budget/threads may change
    with pytest.raises(ValueError, match="different configuration"):
        Trainer(replace(cfg, lr=5e-3), quiet=True)


@needs_fluid
def test_resume_continues_the_step_count(data, tmp_path):
    cfg = tiny_cfg(data, tmp_path / "r", real=True, synthetic=False, steps=4, checkpoint_every=2)
    Trainer(cfg, quiet=True).run(stop_at=2)  # an interruption right after the first checkpoint
    t2 = Trainer(cfg, quiet=True)
    assert t2.step == 2
    out = t2.run()
    assert out["steps"] == 4
    steps = [json.loads(line)["step"] for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


@needs_fluid
def test_resume_is_bit_exact(data, tmp_path):
    """Stopped after a checkpoint (the prefetch thread already ahead) and resumed, a run ends with the
    parameters of the run never stopped, bit for bit: the checkpoint keeps every data generator's state
    after the last batch the step consumed (issue 17, item 6; it was 0.009 off after 40 steps)."""
    kw = dict(real=True, synthetic=True, synth_loop=True, learn_piano=True, steps=4, checkpoint_every=2)
    whole = Trainer(tiny_cfg(data, tmp_path / "whole", **kw), quiet=True)
    whole.run()
    cfg = tiny_cfg(data, tmp_path / "split", **kw)
    Trainer(cfg, quiet=True).run(stop_at=3)  # step 3 is lost, as in a kill
    resumed = Trainer(cfg, quiet=True)
    assert resumed.step == 2
    resumed.run()
    for name, (a, b) in {"model": (whole.model, resumed.model), "piano": (whole.piano, resumed.piano)}.items():
        pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
        for k in pa:
            assert np.array_equal(pa[k].numpy(), pb[k].numpy()), f"{name}.{k}"


@needs_fluid
def test_eval_writes_a_report_that_matches_the_cpp_metrics(data, tmp_path):
    from pianograd.transcription.evaluate import evaluate

    s = train(tiny_cfg(data, tmp_path / "run", real=True, synthetic=False), quiet=True)
    res = evaluate(s["model"], data, "test", out=tmp_path / "eval")
    for f in ("metrics.json", "report.md"):
        assert (tmp_path / "eval" / f).is_file()
    assert list((tmp_path / "eval").glob("*_roll.png"))
    for item in res["items"]:
        for kind in ("note", "note_offset", "note_offset_velocity", "frame"):
            assert 0.0 <= item[kind]["f1"] <= 1.0
    assert set(res["mean"]) == {"note", "note_offset", "note_offset_velocity", "frame", "pedal", "pedal_onset"}


@needs_fluid
def test_experiment_writes_the_sample_efficiency_table(data, tmp_path):
    from pianograd.transcription.experiment import ALL, run_experiment

    base = tiny_cfg(data, tmp_path / "unused")
    doc = run_experiment(base, tmp_path / "exp", budgets=(0, 1, ALL), pretrain_steps=2, steps=2, test_limit=1,
                         quiet=True, seeds=(0, 1), heldout=str(data), jobs=2)
    md = (tmp_path / "exp" / "report.md").read_text()
    assert (tmp_path / "exp" / "sample_efficiency.png").is_file()
    n_all = doc["n_train"]
    assert doc["budgets"] == [0, 1, n_all] and n_all >= 2
    assert "| 0 | — |" in md and "| 1 |" in md and f"| {n_all} (all) |" in md and "±" in md
    assert "held-out instrument" in md
    cells = {(r["n"], r["arm"], r["seed"]) for r in doc["results"]}
    assert cells == {(n, a, s) for n in (0, 1, n_all) for a in ("supervised", "synthetic", "synth_loop")
                     for s in (0, 1)}
    for r in doc["results"]:
        if r["f1"] is None:
            continue
        # compute-matched: supervised-only trains the pre-training's steps too, from scratch
        assert r["steps"] == (4 if r["arm"] == "supervised" else 2)
        assert 0.0 <= r["heldout"]["note"] <= 1.0
    with pytest.raises(ValueError, match="test pieces differ"):
        other = tmp_path / "other"
        prepare(DataConfig(name="tiny", pieces=4, seed=8, n_pairs=1, categories=("chorale",), excerpt_s=3.0,
                           min_notes=4, audio=False), other, jobs=1, progress=False)
        run_experiment(base, tmp_path / "exp2", budgets=(0,), pretrain_steps=1, steps=1, quiet=True,
                       heldout=str(other))


def test_seeds_draw_different_labelled_pieces_nested_in_n():
    from pianograd.data import with_pair_budget
    m = {"config": {"seed": 0}, "splits": {"train": [f"p{i}" for i in range(20)]},
         "excerpts": [{"split": "train", "piece": f"p{i}"} for i in range(20)]}
    a, b = with_pair_budget(m, 4), with_pair_budget(m, 4, pair_seed=1)
    assert a["labelled_train"] == with_pair_budget(m, 4, pair_seed=0)["labelled_train"]
    assert a["labelled_train"] != b["labelled_train"]
    assert set(with_pair_budget(m, 2, pair_seed=1)["labelled_train"]) <= set(b["labelled_train"])


@needs_fluid
def test_cli_transcribe_and_eval(data, tmp_path, capsys):
    from pianograd.cli import main
    from pianograd.data import excerpts, load_manifest

    s = train(tiny_cfg(data, tmp_path / "run", real=True, synthetic=False), quiet=True)
    wav = excerpts(load_manifest(data), "test")[0].wav
    mid = tmp_path / "out.mid"
    assert main(["transcribe", str(wav), str(mid), "--model", s["model"]]) == 0
    assert mid.is_file()
    pg.read_midi(str(mid))  # a valid Standard MIDI File (possibly without notes for a 3-step model)
    assert main(["eval", "--model", s["model"], "--data", str(data), "--quiet"]) == 0
    assert "note_offset_velocity" in capsys.readouterr().out
    # Without --quiet the progress bar runs (a regression: it once called a name missing from _core).
    assert main(["eval", "--model", s["model"], "--data", str(data), "--out", str(tmp_path / "ev")]) == 0
    assert "note_offset_velocity" in capsys.readouterr().out
    assert main(["transcribe", str(wav), str(mid), "--model", str(tmp_path / "missing.safetensors")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_transcribe_unreadable_audio_is_one_line(tmp_path, capsys):
    """A corrupt, truncated or empty audio file: exit 1 and one line naming the file, no traceback
    (issue 17: the reader was soundfile, whose LibsndfileError escaped the CLI's handler)."""
    from pianograd.cli import main

    rng = np.random.default_rng(0)
    cases = {"junk.wav": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
             "truncated.wav": b"RIFF\x10\x00\x00\x00WAVEfmt ", "empty.flac": b"",
             "text.wav": b"not audio at all\n" * 20}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        assert main(["transcribe", str(tmp_path / name), str(tmp_path / "out.mid")]) == 1, name
        err = capsys.readouterr().err
        assert "Traceback" not in err and name in err and err.count("\n") == 1, err
        assert not (tmp_path / "out.mid").exists()


def test_train_config_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        TrainConfig.from_dict({"stepz": 3})
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainConfig.load(p)
    with pytest.raises(FileNotFoundError):
        TrainConfig.load(tmp_path / "none.json")
    with pytest.raises(ValueError, match="at least one"):
        Trainer(TrainConfig(real=False, synthetic=False, synth_loop=False), quiet=True)


@needs_fluid
def test_tune_decoding_stores_thresholds_that_eval_and_transcribe_use(data, tmp_path):
    from pianograd.transcription.evaluate import load_model
    from pianograd.transcription.tune import decode_options, sidecar, tune_decoding

    s = train(tiny_cfg(data, tmp_path / "run", real=True, synthetic=False), quiet=True)
    assert decode_options(s["model"]) == {"onset_threshold": 0.5, "frame_threshold": 0.5, "offset_threshold": 0.5,
                                          "pedal_threshold": 0.5, "pedal_min_seconds": 0.04, "pedal_median_frames": 1}
    best = tune_decoding(load_model(s["model"]), data, "valid", onset=(0.2, 0.5), frame=(0.3,), offset=(1.01,),
                         save_to=s["model"], progress=True)
    assert sidecar(s["model"]).is_file()
    assert best["onset_threshold"] in (0.2, 0.5) and best["frame_threshold"] == 0.3
    assert 0.0 <= best["note_f1"] <= 1.0 and best["score"] == pytest.approx(best["note_f1"] + best["note_offset_f1"])
    opts = decode_options(s["model"])
    assert opts["frame_threshold"] == 0.3 and opts["offset_threshold"] == 1.01


def test_the_shipped_models_load_and_transcribe_a_rendered_phrase():
    from pianograd.transcription.evaluate import DEFAULT_MODEL, load_model
    from pianograd.transcription.tune import decode_options

    notes = [(48, 0.1, 0.8, 70), (60, 0.3, 1.0, 90), (64, 0.6, 1.2, 60), (67, 0.9, 1.5, 100), (72, 1.2, 1.8, 80)]
    audio = pg.Piano(16000.0).render(pg.Performance(notes), 16000.0).numpy()
    model = load_model()
    assert model.parameter_count() <= 1_000_000
    est = model.transcribe(audio, 16000.0, **decode_options(DEFAULT_MODEL))
    m = pg.note_metrics(pg.Performance(notes), est)
    assert m["f1"] >= 0.8, (m, est.notes)
    pre = load_model(DEFAULT_MODEL.parent / "pretrained_synthetic.safetensors")
    assert pre.num_frames(16000) == model.num_frames(16000)
