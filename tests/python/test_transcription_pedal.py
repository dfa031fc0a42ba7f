"""The sustain pedal path of the transcriber (issue 15, item 3) on a tiny configuration: pedal rolls in the
training data, a pedal head grown onto a trained model, training, decoding into CC64 in the MIDI file, the
pedal event metric (cross-checked with mir_eval) in the evaluation report, and threshold tuning."""
import shutil
import warnings
from dataclasses import replace

import numpy as np
import pytest

import pianograd as pg
from pianograd.transcription.config import TrainConfig
from pianograd.transcription.sources import rolls_to_targets, rolls_u8
from pianograd.transcription.train import make_model, train

HAVE_FLUID = shutil.which("fluidsynth") is not None
needs_fluid = pytest.mark.skipif(not HAVE_FLUID, reason="the FluidSynth program is not installed")
TINY_PEDAL = {"key_channels": 8, "temporal_channels": 8, "frame_channels": 4, "pedal_channels": 4}


@pytest.fixture(scope="module")
def data(tiny_transcription_data):
    return tiny_transcription_data("tinypedal")


def tiny_cfg(data, out, **kw):
    base = TrainConfig(data=str(data), n_pairs=1, model=TINY_PEDAL, steps=3, batch=2, segment_s=1.0, lr=1e-2,
                       warmup_steps=1, synth_pool_pieces=0, soup_fraction=1.0, out=str(out), checkpoint_every=2,
                       log_every=1, threads=1)
    return replace(base, **kw)


def pedalled():
    notes = [(60 + i, 0.1 + 0.3 * i, 0.2 + 0.3 * i, 70) for i in range(6)]
    return pg.Performance(notes, [(0.15, 1.0), (0.9, 0.0), (1.2, 1.0), (1.8, 0.0)])


def test_training_rolls_carry_the_pedal():
    r = rolls_u8(pedalled(), 50.0, 100)
    assert r["pedal_frame"].shape == (100,) and r["pedal_frame"].dtype == np.uint8
    assert np.flatnonzero(r["pedal_onset"]).tolist() == [8, 60]
    assert np.flatnonzero(r["pedal_offset"]).tolist() == [45, 90]
    assert r["pedal_frame"][8:45].all() and not r["pedal_frame"][45:60].any()
    t = rolls_to_targets([r, r])
    assert tuple(t["pedal_frame"].shape) == (2, 100) and tuple(t["onset"].shape) == (2, 100, 88)
    # Rolls without the pedal (an older cache) still stack: the pedal targets are left out.
    old = {k: v for k, v in r.items() if not k.startswith("pedal")}
    assert "pedal_frame" not in rolls_to_targets([old, r])


def test_a_pedal_head_grows_onto_a_trained_model(tmp_path):
    plain = pg.Transcriber(pg.TranscriberConfig(key_channels=8, temporal_channels=8, frame_channels=4, seed=1))
    path = tmp_path / "plain.safetensors"
    plain.save(str(path))
    grown = make_model(TrainConfig(init=str(path), model={"pedal_channels": 4}))
    assert grown.has_pedal and not plain.has_pedal
    old, new = plain.state_dict(), grown.state_dict()
    for k, v in old.items():
        np.testing.assert_array_equal(new[k].numpy(), v.numpy(), err_msg=k)
    assert {k for k in new if k.startswith("pedal")} == {"pedal0_weight", "pedal0_bias", "pedal1_weight",
                                                          "pedal1_bias", "pedal_head_weight", "pedal_head_bias"}
    with pytest.raises(ValueError, match="change the shape"):
        make_model(TrainConfig(init=str(path), model={"key_channels": 16}))
    assert not make_model(TrainConfig(init=str(path))).has_pedal


@needs_fluid
def test_tiny_pedal_training_transcribes_cc64_and_reports_pedal_f1(data, tmp_path, capsys):
    from pianograd.cli import main
    from pianograd.data import excerpts, load_manifest
    from pianograd.transcription.evaluate import evaluate, load_model
    from pianograd.transcription.tune import decode_options, tune_decoding

    s = train(tiny_cfg(data, tmp_path / "run", real=True, synthetic=True), quiet=True)
    log = [line for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all('"pedal": ' in line for line in log)
    model = load_model(s["model"])
    assert model.has_pedal
    # Force the pedal head to "down everywhere" so the path from head to CC64 is exercised for certain.
    state = model.state_dict()
    bias = state["pedal_head_bias"].numpy().copy()
    bias[:] = [-20.0, 20.0, -20.0]  # onset, frame, offset logits
    model.load_state_dict({"pedal_head_bias": pg.from_numpy(bias)}, strict=False)
    forced = tmp_path / "forced.safetensors"
    model.save(str(forced))
    wav = excerpts(load_manifest(data), "test")[0].wav
    mid = tmp_path / "out.mid"
    assert main(["transcribe", str(wav), str(mid), "--model", str(forced)]) == 0
    assert "1 sustain pedal presses (CC64)" in capsys.readouterr().out
    back = pg.read_midi(str(mid))
    assert [v for _, v in back.pedal][:1] == [1.0] and back.pedal[-1][1] == 0.0
    # The evaluation report scores the pedal (pooled over excerpts) next to the notes.
    res = evaluate(str(forced), data, "test", out=tmp_path / "ev")
    assert "pedal" in res["mean"] and all("pedal" in it for it in res["items"])
    report = (tmp_path / "ev" / "report.md").read_text()
    assert "pedal events ref/est/matched" in report
    # Tuning chooses a pedal threshold and transcribe / eval pick it up.
    best = tune_decoding(load_model(s["model"]), data, "valid", onset=(0.5,), frame=(0.5,), offset=(1.01,),
                         pedal=(0.3, 0.6), save_to=s["model"])
    assert best["pedal_threshold"] in (0.3, 0.6) and 0.0 <= best["pedal_f1"] <= 1.0
    assert best["score"] == pytest.approx(best["note_f1"] + best["note_offset_f1"] + best["pedal_f1"])
    assert decode_options(s["model"])["pedal_threshold"] == best["pedal_threshold"]


def test_decoded_pedal_round_trips_through_rolls():
    perf = pedalled()
    keys = pg.performance_to_rolls(perf, 50.0, num_frames=110)
    ped = pg.performance_to_pedal_rolls(perf, 50.0, num_frames=110)
    est = pg.rolls_to_performance(keys["onset"], keys["frame"], 50.0, offset=keys["offset"],
                                  pedal_frame=ped["frame"], pedal_onset=ped["onset"], pedal_offset=ped["offset"])
    assert list(est.pedal) == [(0.16, 1.0), (0.9, 0.0), (1.2, 1.0), (1.8, 0.0)]
    assert pg.pedal_metrics(perf, est)["f1"] == 1.0
    with pytest.raises(ValueError, match="pedal frame roll must be"):
        pg.rolls_to_performance(keys["onset"], keys["frame"], 50.0, pedal_frame=pg.zeros([5]))


def test_pedal_metrics_match_mir_eval():
    mir_eval = pytest.importorskip("mir_eval")
    import mir_eval.transcription

    rng = np.random.default_rng(11)
    for trial in range(40):
        perfs = []
        for _ in range(2):
            t, pts = 0.0, []
            for _ in range(int(rng.integers(0, 7))):
                t += float(rng.uniform(0.05, 1.0))
                pts.append((round(t, 4), 1.0))
                t += float(rng.uniform(0.05, 2.0))
                pts.append((round(t, 4), 0.0))
            perfs.append(pg.Performance([(60, 0.0, t + 0.5, 64)], pts))
        ref, est = perfs
        ours = pg.pedal_metrics(ref, est)
        ri, ei = (np.array(pg.pedal_segments(p), dtype=np.float64).reshape(-1, 2) for p in (ref, est))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
                ri, np.full(len(ri), 440.0), ei, np.full(len(ei), 440.0), offset_ratio=0.2)
        assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f), abs=1e-12), trial
        onset = pg.pedal_metrics(ref, est, with_offset=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
                ri, np.full(len(ri), 440.0), ei, np.full(len(ei), 440.0), offset_ratio=None)
        assert (onset["precision"], onset["recall"], onset["f1"]) == pytest.approx((p, r, f), abs=1e-12), trial


@needs_fluid
def test_trainable_prefixes_train_the_pedal_head_alone(data, tmp_path):
    from pianograd.transcription.train import Trainer

    base = pg.Transcriber(pg.TranscriberConfig(key_channels=8, temporal_channels=8, frame_channels=4, seed=2))
    path = tmp_path / "base.safetensors"
    base.save(str(path))
    cfg = tiny_cfg(data, tmp_path / "run", init=str(path), model={"pedal_channels": 4}, trainable=["pedal"])
    s = train(cfg, quiet=True)
    after = pg.Transcriber.load(s["model"]).state_dict()
    before = base.state_dict()
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].numpy(), v.numpy(), err_msg=f"{k} changed but was frozen")
    grown = make_model(cfg).state_dict()  # the same fresh pedal head, before training
    assert any(not np.array_equal(after[k].numpy(), grown[k].numpy()) for k in after if k.startswith("pedal"))
    with pytest.raises(ValueError, match="matches no parameter"):
        Trainer(replace(cfg, trainable=["nothing"], out=str(tmp_path / "r2")), quiet=True)
