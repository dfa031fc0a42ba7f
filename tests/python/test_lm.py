"""The motion LM end to end (issue 14): tokenise every performance of a small corpus set (lossless within
the quantisation), train a tiny transformer, its GRU and n-gram baselines, evaluate them on held-out
performances and MIDI files, generate a continuation and render it; plus the CLI and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

import pianograd as pg
from pianograd.cli import main as cli_main
from pianograd.lm.config import LMConfig
from pianograd.lm.data import performances
from pianograd.lm.evaluate import evaluate, score
from pianograd.lm.train import train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    cfg = LMConfig(pieces=5, categories=["chorale"], steps=40, batch=4, eval_every=20, log_every=10,
                   checkpoint_every=20, model={"d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64, "context": 64,
                                                   "state_features": True},
                   out=str(root / "run"), cache=str(root / "cache"))
    data = performances(cfg, progress=False)
    return cfg, data, root


def test_every_performance_of_the_set_round_trips(tiny):
    _, (perfs, names), _ = tiny
    tok = pg.MotionTokenizer()
    n = 0
    for split in ("train", "valid", "test"):
        for p in perfs[split]:
            q = tok.decode(tok.encode(p))
            assert len(q.notes) == len(p.notes) and tok.quantize(q) == q
            n += 1
    assert n == 5 and set(names) == {"train", "valid", "test"}


def test_train_eval_generate(tiny, tmp_path):
    cfg, data, root = tiny
    s = train(cfg, quiet=True, data=data)
    assert s["steps"] == 40 and (root / "run" / "model.safetensors").is_file()
    v = [r["valid_nll"] for r in s["log"] if "valid_nll" in r]
    assert len(v) == 2 and v[-1] < v[0] < np.log(313) + 0.5  # learning, from about uniform
    gru = train(LMConfig.from_dict({"arch": "gru", "out": str(root / "gru")}, cfg), quiet=True, data=data)
    ng = train(LMConfig.from_dict({"arch": "ngram", "out": str(root / "ng")}, cfg), quiet=True, data=data)
    models = {"model": pg.MotionLM.load(s["model"]), "gru": pg.MotionGRU.load(gru["model"]),
              "ngram": pg.NGramLM.load(ng["model"])}
    assert abs(models["gru"].parameter_count() - models["model"].parameter_count()) < 0.1 * models["model"].parameter_count()
    res = evaluate(models, data[0]["test"])
    for r in res.values():
        assert np.isfinite(r["nll_per_event"]) and r["bits_per_second"] > 0 and r["tokens"] > 100
        assert abs(sum(r[f"share_{f}"] for f in ("time", "pitch", "velocity", "pedal")) - 1) < 1e-6
    # generation: a valid, rendered continuation of a test piece's opening
    prompt = data[0]["test"][0].window(0.0, 3.0)
    out = pg.generate(models["model"], prompt, seconds=4.0, seed=1, top_p=0.9)
    out.validate()
    # EOS is not sampled: the continuation spans its full 4 s after the prompt's
    assert out.duration >= prompt.duration + 4.0 - 0.05 and all(21 <= n.key <= 108 for n in out.notes)
    assert out.notes[: len(prompt.notes)] == pg.MotionTokenizer().quantize(prompt).notes
    assert pg.generate(models["model"], prompt, seconds=4.0, seed=1, top_p=0.9) == out  # seeded


def test_cli_eval_and_generate(tiny, tmp_path, capsys):
    cfg, data, root = tiny
    run = root / "run"
    if not (run / "model.safetensors").is_file():
        train(cfg, quiet=True, data=data)
    ng = root / "ng"
    if not (ng / "model.ngram").is_file():
        train(LMConfig.from_dict({"arch": "ngram", "out": str(ng)}, cfg), quiet=True, data=data)
    (run / "model.ngram").write_bytes((ng / "model.ngram").read_bytes())  # the baseline beside the model
    mid = tmp_path / "midi"
    mid.mkdir()
    for i, p in enumerate(data[0]["test"] + data[0]["valid"]):
        pg.write_midi(mid / f"{i}.mid", p)
    (mid / "empty.mid").write_bytes(pg.encode_midi(pg.Performance()))
    out = tmp_path / "eval.json"
    assert cli_main(["lm", "eval", "--model", str(run / "model.safetensors"), "--midi", str(mid), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res) == {"model", "ngram"} and res["model"]["performances"] == 2 and "nll_per_event" in res["model"]
    assert "no notes" in capsys.readouterr().out
    assert cli_main(["generate", str(tmp_path / "g.mid"), "--model", str(run / "model.safetensors"), "--prompt",
                     str(mid / "0.mid"), "--seconds", "2", "--wav", str(tmp_path / "g.wav")]) == 0
    assert pg.read_midi(tmp_path / "g.mid").notes and (tmp_path / "g.wav").stat().st_size > 1000


def test_ngram_recipe_is_fitted_once_and_matches(tiny, tmp_path, capsys):
    """A shipped n-gram as its recipe (ngram.json): fitted from the same data on first use, cached, and
    scoring exactly as the n-gram trained by `train lm --arch ngram`."""
    from dataclasses import asdict

    from pianograd.lm.evaluate import load_models

    cfg, data, root = tiny
    run = root / "run"
    if not (run / "model.safetensors").is_file():
        train(cfg, quiet=True, data=data)
    ng = train(LMConfig.from_dict({"arch": "ngram", "out": str(tmp_path / "ng")}, cfg), quiet=True, data=data)
    d = tmp_path / "shipped"
    d.mkdir()
    (d / "motion_lm.safetensors").write_bytes((run / "model.safetensors").read_bytes())
    (d / "ngram.json").write_text(json.dumps({**asdict(cfg), "arch": "ngram"}))
    models = load_models(d / "motion_lm.safetensors")
    assert "fitting the n-gram" in capsys.readouterr().out
    want = score(pg.NGramLM.load(ng["model"]), data[0]["test"])["nll_per_event"]
    assert score(models["ngram"], data[0]["test"])["nll_per_event"] == pytest.approx(want, abs=1e-9)
    load_models(d / "motion_lm.safetensors")
    assert "fitting" not in capsys.readouterr().out  # the second time from the cache
    (d / "ngram.json").write_text(json.dumps({**asdict(cfg), "arch": "gru"}))
    with pytest.raises(ValueError, match="arch ngram"):
        load_models(d / "motion_lm.safetensors")


def test_report(tiny, tmp_path):
    """The evaluation report on the tiny models: every table, the curves, a valid sampled continuation."""
    from dataclasses import asdict

    from pianograd.lm.report import main as report_main

    cfg, data, root = tiny
    models = tmp_path / "models"
    models.mkdir()
    for arch, src, dst in (("transformer", "run", "motion_lm.safetensors"), ("gru", "gru", "gru.safetensors"),
                           ("ngram", "ng", "model.ngram")):
        name = "model.ngram" if arch == "ngram" else "model.safetensors"
        if not (root / src / name).is_file():
            train(LMConfig.from_dict({"arch": arch, "out": str(root / src)}, cfg), quiet=True, data=data)
        (models / dst).write_bytes((root / src / name).read_bytes())
    conf = tmp_path / "tiny.json"
    conf.write_text(json.dumps(asdict(cfg)))
    out = tmp_path / "report"
    assert report_main(["--config", str(conf), "--models", str(models), "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert set(res["results"]) == {"model", "gru", "ngram"} and res["sample"]["valid"]
    assert res["sample"]["duration_s"] >= 30.0 and res["test_performances"] == len(data[0]["test"])
    text = (out / "report.md").read_text()
    assert "| ngram |" in text and "Per test work" in text
    for f in ("curves.png", "sample_continuation.png", "sample_continuation.mid"):
        assert (out / f).stat().st_size > 100


@pytest.mark.parametrize("arch,state", [("transformer", True), ("transformer", False), ("gru", False)])
def test_resume_is_bit_exact(tiny, tmp_path, arch, state):
    """Killed after a checkpoint and resumed, a run ends with the parameters of the run never stopped, bit
    for bit: the crop and dropout generators are in the checkpoint (issue 17, item 6)."""
    from pianograd.lm.train import LMTrainer

    cfg, data, _ = tiny
    cfg = LMConfig.from_dict({"arch": arch, "steps": 6, "checkpoint_every": 3, "eval_every": 100, "log_every": 100,
                              "model": {**cfg.model, "dropout": 0.2, "state_features": state}}, cfg)
    whole = LMTrainer(LMConfig.from_dict({"out": str(tmp_path / "whole")}, cfg), True, data)
    whole.run()
    split = LMConfig.from_dict({"out": str(tmp_path / "split")}, cfg)
    assert LMTrainer(split, True, data).run(stop_at=4)["interrupted"]  # step 4 is lost, as in a kill
    resumed = LMTrainer(split, True, data)
    assert resumed.step == 3
    resumed.run()
    a, b = dict(whole.model.named_parameters()), dict(resumed.model.named_parameters())
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k


def test_bad_input_is_a_clear_error(tiny, tmp_path, capsys):
    cfg, data, root = tiny
    m = pg.MotionLM(pg.MotionLMConfig(d_model=16, n_layers=1, n_heads=2, d_ff=16, context=16))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        m.loss(np.array([[1, 2, 400]]))
    with pytest.raises(ValueError, match="exceed the context"):
        m.forward(np.ones((1, 17), dtype=np.int64))
    with pytest.raises(ValueError, match="seconds must be > 0"):
        pg.generate(m, None, seconds=0)
    with pytest.raises(ValueError, match="unknown keys"):
        LMConfig.from_dict({"stepz": 3})
    assert cli_main(["lm", "eval", "--model", str(tmp_path / "none.safetensors"), "--midi", str(tmp_path)]) == 1
    assert "no model at" in capsys.readouterr().err
    assert cli_main(["lm", "eval", "--model", str(root / "run" / "model.safetensors"), "--midi", str(tmp_path)]) == 1
    assert "no MIDI file with notes" in capsys.readouterr().err
    # a prompt far longer than the context is truncated (documented), not an error
    long = pg.Performance([(60 + i % 12, 0.1 * i, 0.1 * i + 0.05, 64) for i in range(200)])
    assert pg.generate(m, long, seconds=0.5, seed=0).duration >= 20.0
