"""Data-parallel training over MPI (issue 18): what the trainers share.

`mpirun -np K pianograd train {transcription|omr|lm} --config C` starts K copies of the same training
command; each is one rank of the job's process group (`pg.init_process_group`, MPI through the engine's
communication thread). Alone, or without an MPI launcher, the group has one rank and everything here is
the identity, so a trainer runs the same code either way.

Per step, each rank computes the loss of its own share of the global batch (K x the config's batch);
`DataParallel.sync()` after the backward pass leaves every rank with the mean gradient over all ranks,
the gradient of the global batch, so the optimizers keep identical parameters. The reduction starts in
buckets during the backward pass (`pg.GradReducer`). Rank 0 alone writes checkpoints and logs; every rank
reads them when resuming.

A rank that raises ends the whole job (the exception hook below), and a rank that stops answering ends
it after the group's timeout (PIANOGRAD_DIST_TIMEOUT, seconds), so a job never hangs on a dead rank.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from . import _core as pg

_CONTEXT: Optional["DataParallel"] = None


class DataParallel:
    """This process's place in the job and the gradient reducer of its parameters."""

    def __init__(self, group: Optional["pg.ProcessGroup"] = None) -> None:
        self.group = group if group is not None else pg.init_process_group()
        self.rank, self.size = self.group.rank, self.group.size
        self.reducer: Optional["pg.GradReducer"] = None
        self._params: List["pg.Tensor"] = []
        if self.size > 1:
            _install_abort_hook(self.group)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def threads(self, configured: int) -> int:
        """The threads a rank should use: the config's, else this machine's cores shared among the ranks
        that run on it (so K ranks on one machine do not oversubscribe it)."""
        if configured:
            return configured
        local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", os.environ.get("MPI_LOCALNRANKS", "1")))
        return max(1, (os.cpu_count() or 1) // max(local, 1)) if self.size > 1 else 0

    def rng(self, seed: int) -> np.random.Generator:
        """A data generator: rank 0 draws exactly what a single process would, the others their own streams."""
        return np.random.default_rng(seed if self.rank == 0 else [seed, self.rank])

    def attach(self, params: Sequence["pg.Tensor"], bucket_bytes: int = 256 * 1024) -> None:
        """Starts every rank from rank 0's weights and reduces these parameters' gradients from now on."""
        self._params = list(params)
        if self.size == 1:
            return
        pg.broadcast_tensors(self.group, self._params, 0)
        self.reducer = pg.GradReducer(self.group, self._params, bucket_bytes)

    def sync(self) -> None:
        """After backward(): every attached parameter's .grad becomes the mean over the ranks."""
        if self.reducer is not None:
            self.reducer.finish()

    def stats(self) -> dict:
        return dict(self.reducer.stats) if self.reducer is not None else {}

    def mean(self, values: Sequence[float]) -> List[float]:
        """Each value averaged over the ranks (logged losses)."""
        return [v / self.size for v in self.sum(values)]

    def sum(self, values: Sequence[float]) -> List[float]:
        if self.size == 1:
            return [float(v) for v in values]
        t = pg.from_numpy(np.asarray(values, dtype=np.float64).reshape(-1).copy())
        self.group.all_reduce(t, "sum")
        return [float(v) for v in t.numpy()]

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one (so that all ranks leave a loop at the same step)."""
        return bool(self.sum([1.0 if flag else 0.0])[0] > 0) if self.size > 1 else bool(flag)

    def gather_json(self, obj: Any) -> List[Any]:
        """Every rank's JSON-serialisable obj, in rank order (per-rank generator states for a checkpoint)."""
        if self.size == 1:
            return [obj]
        raw = np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)
        lens = self.group.all_gather(pg.from_numpy(np.array([len(raw)], dtype=np.int64))).numpy().reshape(-1)
        buf = np.zeros(int(lens.max()), dtype=np.int64)
        buf[: len(raw)] = raw
        rows = self.group.all_gather(pg.from_numpy(buf)).numpy()
        return [json.loads(bytes(rows[k, : lens[k]].astype(np.uint8)).decode()) for k in range(self.size)]

    def share(self, n: int) -> slice:
        """This rank's part of a global batch of n = size x per-rank items."""
        per = n // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def barrier(self) -> None:
        if self.size > 1:
            self.group.barrier()

    def main_first(self, fn: Callable[[], Any]) -> Any:
        """fn() on rank 0, then on the others (which then find what rank 0 prepared and cached, instead
        of writing the same files at once). The others wait without the group's timeout: preparing data
        may take longer, and a rank 0 that dies takes the job down through the launcher."""
        if self.size == 1:
            return fn()
        flag = pg.from_numpy(np.zeros(1, dtype=np.float64))
        if self.rank == 0:
            out = fn()
            self.group.all_reduce(flag, "sum")
            return out
        work = self.group.all_reduce_async(flag, "sum")
        while not work.done():
            time.sleep(0.1)
        work.wait()
        return fn()


def abort_job(message: str) -> None:
    """Ends every rank of a multi-process job with message (no-op alone): for errors a command reports
    and returns from instead of raising, which would otherwise leave the other ranks waiting."""
    if _CONTEXT is not None and _CONTEXT.size > 1:
        _CONTEXT.group.abort(message, 1)


def context() -> DataParallel:
    """The process's DataParallel, made on first use."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = DataParallel()
    return _CONTEXT


def _install_abort_hook(group: "pg.ProcessGroup") -> None:
    """An uncaught exception on one rank ends the job at once: otherwise the other ranks would wait for it
    in their next collective until the timeout."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if kind is KeyboardInterrupt:
            previous(kind, value, tb)
        text = "".join(traceback.format_exception(kind, value, tb)).rstrip()
        group.abort(f"ending the job after an uncaught exception:\n{text}", 1)

    sys.excepthook = hook
