#!/usr/bin/env python3
"""Data-parallel training speed (issue 18): samples/s of each model's training step at 1 and 2 processes
(one thread each, `mpirun -np K`), and the share of a step spent communicating.

Each rank runs the step the trainers run (forward, loss, backward, the gradient reduction, clipping,
the optimizer) on its own batch of the per-rank size below; the global batch is K times it, so
samples/s = K x per-rank batch / step time. Timed: `--rounds` alternating runs of each process count,
each `--steps` steps after two warm-up steps with the ranks starting each step together; the best step
(the least interference from other tenants of a shared machine) and the median over the runs' medians. "exposed comm" is the time a step waits in
GradReducer.finish() for reductions still running after the backward pass; "comm" is the time the
reductions took on the communication thread, most of it overlapped with the backward pass.

    PYTHONPATH=build/python python bench/scripts/bench_data_parallel.py --np 1,2 --steps 12 --rounds 3

Shapes (shipped configurations): the transcriber as shipped, 8 x 2 s of 16 kHz audio per rank; the OMR
CRNN (957,555 parameters), 8 strips of 64 x 512 per rank; the motion LM (829,568 parameters), 4 x 512
tokens per rank.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def transcriber_step(pg, rng):
    from pianograd import optim

    m = pg.Transcriber.load(str(ROOT / "python/pianograd/transcription/models/transcriber.safetensors"))
    m.train()
    sr = int(m.config.sample_rate)
    b, n = 8, 2 * sr
    frames = m(pg.from_numpy(np.zeros((1, n), np.float32))).onset.shape[1]
    audio = pg.from_numpy((0.1 * rng.standard_normal((b, n))).astype(np.float32))
    onset = (rng.random((b, frames, 88)) < 0.005).astype(np.float32)
    frame = (rng.random((b, frames, 88)) < 0.05).astype(np.float32)
    tg = {"onset": onset, "frame": frame, "offset": onset.copy(), "velocity": onset * 0.6}
    if m.config.pedal_channels:
        tg["pedal"] = (rng.random((b, frames)) < 0.3).astype(np.float32)
    tg = {k: pg.from_numpy(v) for k, v in tg.items()}
    params = list(m.parameters())
    opt = optim.Adam(params, lr=1e-4)
    return b, params, opt, lambda: pg.transcription_loss(m(audio), tg).total


def omr_step(pg, rng):
    from pianograd import optim
    from pianograd.omr.model import OmrNet, frames

    net = OmrNet((32, 64, 96, 128), 192)
    net.train()
    b, w = 8, 512
    x = pg.tensor((rng.random((b, 1, 64, w)) < 0.1).astype(np.float32))
    tl = np.full(b, 40, np.int64)
    tg = pg.tensor(rng.integers(1, 595, size=(b, 40)).astype(np.int64))
    il = pg.tensor(np.full(b, frames(w), np.int64))
    params = list(net.parameters())
    opt = optim.AdamW(params, lr=1e-4, weight_decay=1e-4)
    return b, params, opt, lambda: pg.ctc_loss(net(x), tg, il, pg.tensor(tl), blank=0, reduction="mean",
                                               zero_infinity=True)


def lm_step(pg, rng):
    from pianograd import optim
    from pianograd.lm.config import LMConfig
    from pianograd.lm.train import make_model

    cfg = LMConfig.load(str(ROOT / "configs/lm/shipped.json"))
    tok = pg.MotionTokenizer()
    m = make_model(cfg, tok)
    m.train()
    b = 4
    x = pg.from_numpy(rng.integers(1, tok.vocab_size, size=(b, 513)).astype(np.int64))
    params = list(m.parameters())
    opt = optim.AdamW(params, lr=1e-4, weight_decay=0.05)
    return b, params, opt, lambda: m.loss(x)


STEPS = {"transcriber": transcriber_step, "omr": omr_step, "lm": lm_step}


def worker(model, steps):
    import pianograd as pg
    from pianograd import distributed, optim

    dp = distributed.context()
    pg.set_num_threads(1)
    pg.manual_seed(0)
    b, params, opt, loss_fn = STEPS[model](pg, np.random.default_rng(dp.rank))
    dp.attach(params)
    times, waits, comms = [], [], []
    for i in range(steps + 2):
        dp.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn().backward()
        dp.sync()
        optim.clip_grad_norm(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if i >= 2:
            times.append(dt)
            st = dp.stats()
            waits.append(st.get("wait_seconds", 0.0))
            comms.append(st.get("comm_seconds", 0.0))
    if dp.is_main:
        st = dp.stats()
        print("RESULT " + json.dumps({
            "model": model, "ranks": dp.size, "batch": b, "step_s": statistics.median(times), "best_s": min(times),
            "wait_s": statistics.median(waits), "comm_s": statistics.median(comms),
            "buckets": st.get("buckets", 0), "early": st.get("launched_early", 0),
            "params": int(sum(int(np.prod(p.shape)) for p in params))}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np", default="1,2", help="process counts")
    ap.add_argument("--models", default="transcriber,omr,lm")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per process count")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.steps)
        return 0
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        print("mpirun not found: install openmpi-bin (scripts/bootstrap.sh does)")
        return 1
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMP_NUM_THREADS": "1"}
    rows = []
    counts = [int(x) for x in a.np.split(",")]
    for model in a.models.split(","):
        runs = {k: [] for k in counts}
        for _ in range(a.rounds):  # the process counts alternate, so that both see the same machine load
            for k in counts:
                p = subprocess.run([mpirun, "-np", str(k), "--oversubscribe", "--bind-to", "core", sys.executable,
                                    __file__, "--worker", model, "--steps", str(a.steps)],
                                   capture_output=True, text=True, env=env)
                line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
                if p.returncode != 0 or not line:
                    print(p.stdout + p.stderr)
                    return 1
                runs[k].append(json.loads(line[0][7:]))
        base = None
        for k in counts:
            rs = runs[k]
            r = {**rs[0], "best_s": min(x["best_s"] for x in rs), "step_s": statistics.median(x["step_s"] for x in rs),
                 "wait_s": statistics.median(x["wait_s"] for x in rs), "comm_s": statistics.median(x["comm_s"] for x in rs)}
            r["samples_s"] = r["ranks"] * r["batch"] / r["step_s"]
            r["samples_best"] = r["ranks"] * r["batch"] / r["best_s"]
            base = base or r
            r["speedup"] = r["samples_s"] / base["samples_s"]
            r["speedup_best"] = r["samples_best"] / base["samples_best"]
            rows.append(r)
    print(f"{'model':<12} {'params':>9} {'ranks':>5} {'batch':>5} {'step best/median':>18} {'samples/s':>10} "
          f"{'vs 1 best/median':>17} {'comm':>8} {'exposed':>8} {'share':>6} {'buckets':>7}")
    for r in rows:
        share = r["wait_s"] / r["step_s"]
        print(f"{r['model']:<12} {r['params']:>9,} {r['ranks']:>5} {r['batch'] * r['ranks']:>5} "
              f"{r['best_s'] * 1e3:>7.1f} / {r['step_s'] * 1e3:>6.1f}ms {r['samples_best']:>10.2f} "
              f"{r['speedup_best']:>8.2f} / {r['speedup']:>5.2f} {r['comm_s'] * 1e3:>6.2f}ms "
              f"{r['wait_s'] * 1e3:>6.2f}ms {share:>6.1%} {r['early']:>3}/{r['buckets']:<3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
