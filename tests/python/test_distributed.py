"""Data-parallel training over MPI (issue 18): the process group's helpers, the three trainers under
`mpirun -np 2`, and a job that loses a rank ending with an error instead of hanging. The collectives
themselves are checked against closed forms in C++ (tests/distributed/, ctest distributed.*)."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import pianograd as pg
from pianograd import distributed

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("distributed_worker.py")
MPIRUN = shutil.which("mpirun")
needs_mpi = pytest.mark.skipif(not (pg.mpi_built() and MPIRUN), reason="this build has no MPI (libopenmpi-dev)")


def mpirun(args, n=2, timeout=300, env=None):
    """Runs `mpirun -np n python ARGS`; returns (returncode, combined output, seconds)."""
    e = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
         "OMP_NUM_THREADS": "1", **(env or {})}
    t0 = time.perf_counter()
    p = subprocess.run([MPIRUN, "-np", str(n), "--oversubscribe", sys.executable, *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout + p.stderr, time.perf_counter() - t0


def result(output):
    lines = [ln for ln in output.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, output
    return json.loads(lines[0][len("RESULT "):])


def test_alone_the_group_has_one_rank_and_helpers_are_identities():
    dp = distributed.DataParallel(pg.init_process_group("single"))
    assert (dp.size, dp.rank, dp.is_main) == (1, 0, True)
    assert dp.sum([1.5, 2]) == [1.5, 2.0] and dp.mean([3.0]) == [3.0]
    assert dp.any(True) and not dp.any(False)
    assert dp.gather_json({"a": 1}) == [{"a": 1}]
    assert dp.share(4) == slice(0, 4)
    assert dp.main_first(lambda: 7) == 7
    assert dp.rng(5).integers(0, 10**9) == np.random.default_rng(5).integers(0, 10**9)
    t = pg.from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    dp.group.all_reduce(t, "mean")
    assert t.numpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="unknown op"):
        dp.group.all_reduce(t, "prod")
    with pytest.raises(ValueError, match="unknown backend"):
        pg.init_process_group("gloo")


@needs_mpi
def test_helpers_across_two_ranks():
    rc, out, _ = mpirun([WORKER, "helpers"])
    assert rc == 0, out
    r = result(out)
    assert (r["size"], r["backend"]) == (2, "mpi")
    assert r["sum"] == [3.0, 20.0] and r["mean"] == [0.5]
    assert r["any"] == [True, False]
    assert r["gathered"] == [{"rank": 0, "text": ""}, {"rank": 1, "text": "xxxxx"}]
    assert r["share"] == [0, 4]
    assert r["main_first"][0] <= r["main_first"][1]  # rank 1 ran only after rank 0 had finished
    assert r["max"] == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


@needs_mpi
def test_lm_on_two_ranks_equals_one_process_with_the_global_batch(tmp_path):
    """Same crops (the global batch is drawn identically, each rank builds its half), no dropout: after
    three AdamW steps both runs hold the same parameters to float rounding."""
    base = {"pieces": 5, "categories": ["chorale"], "steps": 3, "batch": 4, "eval_every": 100, "log_every": 1,
            "checkpoint_every": 2, "threads": 1, "warmup_steps": 1, "lr": 0.01, "cache": str(tmp_path / "cache"),
            "model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64, "context": 64,
                      "state_features": True, "dropout": 0.0}}
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps({**base, "out": str(tmp_path / "one")}))
    two.write_text(json.dumps({**base, "batch": 2, "out": str(tmp_path / "two")}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "pianograd", "train", "lm", "--config", str(one), "-q"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    rc, out, _ = mpirun(["-m", "pianograd", "train", "lm", "--config", two, "-q"])
    assert rc == 0, out
    assert out.count("trained transformer") == 1  # rank 0 alone reports (and writes)
    a = pg.load_safetensors(str(tmp_path / "one" / "model.safetensors"))
    b = pg.load_safetensors(str(tmp_path / "two" / "model.safetensors"))
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k].numpy(), rtol=1e-4, atol=2e-6, err_msg=k)
    logs = [json.loads(x) for x in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3]


@needs_mpi
def test_transcription_on_two_ranks_keeps_the_ranks_in_step_and_resumes_alone(tmp_path):
    from test_transcription import HAVE_FLUID, TINY_MODEL

    if not HAVE_FLUID:
        pytest.skip("the FluidSynth program is not installed")
    from pianograd.data import DataConfig, prepare
    from pianograd.transcription.config import TrainConfig
    from pianograd.transcription.train import Trainer

    data = tmp_path / "data"
    prepare(DataConfig(name="tiny", pieces=4, seed=7, n_pairs=1, categories=("chorale",), excerpt_s=3.0,
                       min_notes=4), data, jobs=1, progress=False)
    cfg = {"data": str(data), "n_pairs": 1, "model": TINY_MODEL, "steps": 3, "batch": 2, "segment_s": 1.0,
           "lr": 1e-2, "warmup_steps": 1, "synth_pool_pieces": 0, "soup_fraction": 1.0, "loop_batch": 1,
           "loop_segment_s": 0.5, "out": str(tmp_path / "run"), "checkpoint_every": 1, "log_every": 1,
           "threads": 1, "real": True, "synthetic": True, "synth_loop": True, "learn_piano": True,
           "loop_onset_threshold": 0.02}
    rc, out, _ = mpirun([WORKER, "transcription", json.dumps(cfg), 2])  # stops after step 2, as a kill would
    assert rc == 0, out
    r = result(out)
    assert r["steps"] == 2
    assert r["spread"] == 0.0  # model and piano identical on both ranks after two steps
    assert r["reducer"]["buckets"] >= 1 and r["reducer"]["comm_seconds"] > 0
    state = json.loads((tmp_path / "run" / "checkpoint" / "manifest.json").read_text())
    by_rank = state["state"]["rng_states_by_rank"]
    assert len(by_rank) == 2 and by_rank[0] != by_rank[1]  # each rank its own data stream
    # A resume with one process takes rank 0's streams and goes on.
    s = Trainer(TrainConfig.from_dict(cfg), quiet=True).run()
    assert s["steps"] == 3


@needs_mpi
def test_omr_on_two_ranks_keeps_the_ranks_in_step(tmp_path):
    cfg = json.loads((ROOT / "configs" / "omr" / "tiny.json").read_text())
    # One labelled work; self-training from step 1: each rank reads half the unlabelled strips, and the
    # pooled pseudo-labels must be the same on both ranks.
    cfg.update(steps=2, eval_every=100, checkpoint_every=1, n_labelled=1, self_train_from=1, self_train_every=1,
               self_train_max_nll=100.0)
    rc, out, _ = mpirun([WORKER, "omr", json.dumps(cfg), tmp_path / "run"], timeout=600)
    assert rc == 0, out
    r = result(out)
    assert r["steps"] == 2 and r["spread"] == 0.0
    assert r["expected"] and r["pseudo"][0] == r["pseudo"][1] == r["expected"]
    assert (tmp_path / "run" / "model.safetensors").is_file()


@needs_mpi
@pytest.mark.parametrize("mode, says", [("kill", "rank 1"), ("raise", "rank one cannot go on"),
                                        ("stall", "waited 3 s for the other ranks")])
def test_a_lost_rank_ends_the_job_with_an_error(mode, says):
    """A killed rank (the launcher ends the job), an exception on one rank (the exception hook aborts
    the job), a rank that stops answering (the other's wait times out): each ends within 60 s."""
    rc, out, seconds = mpirun([WORKER, mode], env={"PIANOGRAD_DIST_TIMEOUT": "3"}, timeout=120)
    assert rc != 0
    assert says in out, out
    assert seconds < 60


def test_importing_pianograd_loads_no_nccl():
    """NCCL is opened on first use only: a linked system libnccl would stand in for PyTorch's newer one
    and break `import torch` after `import pianograd` (it did: undefined symbol ncclCommResume)."""
    code = "import pianograd, pianograd._core as c; print(c.nccl_built(), 'libnccl' in open('/proc/self/maps').read())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[1] == "False", p.stdout
