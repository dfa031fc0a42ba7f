"""g's sample-efficiency experiment (issue 13 item 10) end to end on the tiny configuration, and the
training switches it is built on (no work labelled, no synthetic staves, a bounded self-training pool)."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "omr" / "experiment_tiny.json"


def _cfg(**over):
    from pianograd.omr.train import OmrTrainConfig

    d = json.loads(TINY.read_text())
    d.update(over)
    return OmrTrainConfig.from_dict(d)


def test_arm_configs_are_compute_matched_and_budgeted():
    from pianograd.omr.experiment import arm_config

    base = _cfg()
    works = arm_config(base, "works", 4, 10, "p.safetensors", 50, 200, seed=2)
    audio = arm_config(base, "audio", 4, 10, "p.safetensors", 50, 200, seed=2)
    assert (audio.pseudo_source, audio.n_labelled, audio.init, audio.synthetic) == ("audio", 4, "p.safetensors", True)
    assert audio.self_train_from > 0
    assert (works.steps, works.init, works.synthetic, works.real, works.n_labelled) == (250, "", False, True, 4)
    assert works.self_train_from == 0 and works.seed == works.pair_seed == 2
    syn = arm_config(base, "synthetic", 0, 10, "p.safetensors", 50, 200, seed=0)
    assert (syn.steps, syn.init, syn.synthetic, syn.real, syn.self_train_from) == (50, "p.safetensors", True, False, 0)
    st = arm_config(base, "self_train", 10, 10, "p.safetensors", 50, 200, seed=0)
    assert st.n_labelled == 0 and st.real  # N = every work: n_labelled 0 means all
    assert 0 < st.self_train_from == st.self_train_every <= 25  # at least two rounds within the cell


def test_trainer_switches(tmp_path):
    from pianograd.omr.train import Trainer

    syn_only = Trainer(_cfg(real=False), tmp_path / "a", progress=False)
    meta = syn_only.train_set.meta
    assert syn_only.targets and all(meta[i].get("synthetic") for i in syn_only.targets)
    assert syn_only.unlabelled and not any(meta[i].get("synthetic") for i in syn_only.unlabelled)
    works_only = Trainer(_cfg(synthetic=False, n_labelled=1), tmp_path / "b", progress=False)
    meta = works_only.train_set.meta
    assert {meta[i]["piece"] for i in works_only.targets} and len({meta[i]["piece"] for i in works_only.targets}) == 1
    assert not any(meta[i].get("synthetic") for i in list(works_only.targets) + works_only.unlabelled)
    with pytest.raises(ValueError, match="no labelled strips"):
        Trainer(_cfg(real=False, synthetic=False), tmp_path / "c", progress=False)
    # Score-audio pairs: the work after the N labelled ones (pair order) comes without labels, the rest is unused.
    from pianograd.data.splits import labelled_subset
    audio = Trainer(_cfg(n_labelled=1, pseudo_source="audio", audio_works=1), tmp_path / "d", progress=False)
    meta = audio.train_set.meta
    order = labelled_subset(sorted({m["piece"] for m in meta if not m.get("synthetic")}), 3, 0)
    assert {meta[i]["piece"] for i in audio.targets if not meta[i].get("synthetic")} == {order[0]}
    assert audio.audio_works == [order[1]] and {meta[i]["piece"] for i in audio.unlabelled} == {order[1]}
    with pytest.raises(ValueError, match="no work is left"):
        Trainer(_cfg(pseudo_source="audio"), tmp_path / "e", progress=False)  # every work labelled


def test_self_training_pool_bounds_each_round(tmp_path, monkeypatch):
    import pianograd.omr.self_train as self_train
    from pianograd.omr.train import Trainer

    seen = []

    def fake(net, strips, max_nll):
        seen.append(len(strips))
        return [[1, 2]] * len(strips)

    monkeypatch.setattr(self_train, "pseudo_labels", fake)
    t = Trainer(_cfg(real=False, self_train_from=2, self_train_every=2, self_train_pool=3, steps=4),
                tmp_path, progress=False)
    assert len(t.unlabelled) > 3
    t.run()
    assert seen == [3, 3] and len(t.pseudo) == 3 and set(t.pseudo) <= set(t.unlabelled)


def test_experiment_end_to_end(tmp_path):
    from pianograd.omr.experiment import ALL, run_experiment
    from pianograd.omr.experiment_report import render_markdown

    doc = run_experiment(_cfg(), tmp_path, budgets=(0, 1, ALL), pretrain_steps=3, steps=4, seeds=(0, 1), quiet=True)
    n_all = doc["n_works"]
    assert doc["budgets"] == [0, 1, n_all] and n_all == 3
    cells = {(r["n"], r["arm"], r["seed"]): r for r in doc["results"]}
    assert len(cells) == 4 * 3 * 2
    assert cells[(0, "works", 0)]["ser"] is None and cells[(n_all, "self_train", 1)]["ser"] is None
    assert cells[(n_all, "audio", 0)]["ser"] is None and cells[(0, "audio", 0)]["ser"] is not None
    for (n, arm, seed), r in cells.items():
        if r["ser"] is None:
            continue
        assert 0.0 <= r["ser"] and 0.0 <= r["note_f1"] <= 1.0
        assert r["steps"] == (3 + 4 if arm == "works" else 4)  # compute-matched
        log = [json.loads(x) for x in (tmp_path / f"N{n}_{arm}_s{seed}" / "log.jsonl").read_text().splitlines()]
        assert any("pseudo" in x for x in log) == (arm in ("self_train", "audio"))
        assert any("audio_read" in x for x in log) == (arm == "audio")
    assert (tmp_path / "pretrain_synthetic" / "model.safetensors").is_file()
    md = (tmp_path / "report.md").read_text()
    assert md == render_markdown(json.loads((tmp_path / "experiment.json").read_text()))
    assert "| 3 (all) |" in md and "self-training adds" in md and (tmp_path / "sample_efficiency.png").stat().st_size
    # A finished cell is not trained again: the same call again only reads the cells' results.
    stamp = (tmp_path / "N1_audio_s0" / "log.jsonl").stat().st_mtime_ns
    again = run_experiment(_cfg(), tmp_path, budgets=(0, 1, ALL), pretrain_steps=3, steps=4, seeds=(0, 1), quiet=True,
                           pretrained=doc["pretrained"])
    assert [r["ser"] for r in again["results"]] == [r["ser"] for r in doc["results"]]
    assert (tmp_path / "N1_audio_s0" / "log.jsonl").stat().st_mtime_ns == stamp


def test_experiment_needs_synthetic_data(tmp_path):
    from pianograd.omr.experiment import run_experiment
    from pianograd.omr.train import OmrTrainConfig

    d = json.loads(TINY.read_text())
    d["data"].pop("piano_staves")
    with pytest.raises(ValueError, match="piano_staves"):
        run_experiment(OmrTrainConfig.from_dict(d), tmp_path, quiet=True)


def test_cli_runs_the_tiny_experiment(tmp_path, capsys):
    from pianograd import cli

    out = tmp_path / "r"
    assert cli.main(["experiment", "omr", "--config", str(TINY), "--out", str(out), "--pretrain-steps", "2",
                     "--steps", "2", "--budgets", "0,all", "--seeds", "0", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "# Sample efficiency of g (OMR)" in printed and (out / "report.md").is_file()
    assert cli.main(["experiment", "omr", "--out", str(out)]) == 1
    assert "--config is required" in capsys.readouterr().err
    assert cli.main(["experiment", "omr", "--config", str(TINY), "--data", "x", "--out", str(out)]) == 1


def test_unknown_arm_is_refused_before_pretraining(tmp_path):
    from pianograd.omr.experiment import run_experiment

    with pytest.raises(ValueError, match="unknown arms"):
        run_experiment(_cfg(), tmp_path, arms=("works", "bogus"), quiet=True)
    assert not (tmp_path / "pretrain_synthetic").exists()
