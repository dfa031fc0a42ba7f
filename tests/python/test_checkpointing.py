"""Checkpoints as one unit (issue 17, item 5): pianograd.checkpointing directly (a changed or missing file
is refused, a killed save leaves the old checkpoint, leftovers are cleaned, the old folder scheme still
loads), and `pianograd train lm` killed with SIGKILL at random moments 20 times, resuming every time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from pianograd import checkpointing
from pianograd.checkpointing import CheckpointError


def writer(text):
    return lambda path: Path(path).write_text(text)


def test_save_load_verify_and_clean(tmp_path):
    out = tmp_path / "run"
    checkpointing.save(out, 1, {"a.bin": writer("one"), "b.bin": writer("uno")}, {"step": 1})
    folder, m = checkpointing.load(out)
    assert m["step"] == 1 and m["state"] == {"step": 1} and (folder / "a.bin").read_text() == "one"
    # a killed save: a half-written folder and a dangling temporary link; the old checkpoint still loads
    (out / "checkpoint.2.99999").mkdir()
    (out / "checkpoint.2.99999" / "a.bin").write_text("tw")
    os.symlink("checkpoint.2.99999", out / ".checkpoint.link.99999")
    assert checkpointing.load(out)[1]["step"] == 1
    checkpointing.save(out, 3, {"a.bin": writer("three"), "b.bin": writer("tres")}, {"step": 3})
    names = sorted(p.name for p in out.iterdir())
    assert names == ["checkpoint", f"checkpoint.3.{os.getpid()}"], names  # leftovers and step 1 removed
    folder, m = checkpointing.load(out)
    assert m["step"] == 3
    # a mixed set (one file from another step) and a missing file are refused, naming the file
    (folder / "b.bin").write_text("uno")
    with pytest.raises(CheckpointError, match="b.bin"):
        checkpointing.load(out)
    (folder / "b.bin").unlink()
    with pytest.raises(CheckpointError, match="b.bin is missing"):
        checkpointing.load(out)
    assert checkpointing.load(tmp_path / "nothing") is None


def test_the_old_folder_scheme_still_resumes_and_is_replaced(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "state.json").write_text(json.dumps({"step": 7, "config": {}}))
    folder, m = checkpointing.load(out)
    assert m["step"] == 7 and folder.name == "checkpoint"
    checkpointing.save(out, 8, {"a.bin": writer("x")}, {"step": 8})
    assert (out / "checkpoint").is_symlink() and checkpointing.load(out)[1]["step"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint", f"checkpoint.8.{os.getpid()}"]


def test_random_kills_always_resume(tmp_path):
    """SIGKILL a tiny `pianograd train lm` 20 times at random moments; each restart resumes (never an
    error), the step count never goes back past a checkpoint, and the run goes on (a time budget, which a
    resume may change, ends the last sitting)."""
    from pianograd.lm.config import LMConfig

    cfg = LMConfig(pieces=5, categories=["chorale"], steps=100_000, batch=2, eval_every=1000, log_every=1000,
                   checkpoint_every=3, model={"d_model": 16, "n_layers": 1, "n_heads": 2, "d_ff": 16, "context": 32},
                   out=str(tmp_path / "run"), cache=str(tmp_path / "cache"))
    conf = tmp_path / "lm.json"
    conf.write_text(json.dumps(asdict(cfg)))
    cmd = [sys.executable, "-m", "pianograd", "train", "lm", "--config", str(conf), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    warm = cmd[:-1] + ["--steps", "1", "--out", str(tmp_path / "warm"), "--quiet"]  # builds the data cache
    subprocess.run(warm, env=env, check=True, capture_output=True)
    rng = np.random.default_rng(0)
    last, steps = 0, []
    for kill in range(20):
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(float(rng.uniform(0.3, 2.0)))
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate()
        assert b"Traceback" not in err and b"error" not in err, err.decode()
        found = checkpointing.load(tmp_path / "run")  # never a mixed or partial set
        step = found[1]["step"] if found else 0
        assert step >= last, (kill, step, last)
        last = step
        steps.append(step)
    assert len(set(steps)) > 10, steps  # the kills landed at many different moments
    assert 0 < last < 100_000
    done = subprocess.run(cmd + ["--time-budget", "1"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert checkpointing.load(tmp_path / "run")[1]["step"] > last
