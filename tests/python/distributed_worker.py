"""One rank of the data-parallel tests (test_distributed.py starts it under `mpirun -np 2`). Each mode
prints one JSON line from rank 0 with what the test checks."""
import json
import os
import signal
import sys
import time

import numpy as np

import pianograd as pg
from pianograd import distributed


def params_digest(params):
    """Every rank's parameter values, gathered: equal rows mean the ranks hold the same weights."""
    flat = np.concatenate([p.numpy().reshape(-1).astype(np.float64) for p in params])
    dp = distributed.context()
    rows = dp.group.all_gather(pg.from_numpy(flat)).numpy()
    return float(np.abs(rows - rows[0]).max())


def main(mode, *args):
    dp = distributed.context()
    out = {"size": dp.size, "backend": dp.group.backend}
    if mode == "helpers":
        out["sum"] = dp.sum([dp.rank + 1.0, 10.0])
        out["mean"] = dp.mean([float(dp.rank)])
        out["any"] = [dp.any(dp.rank == 1), dp.any(False)]
        out["gathered"] = dp.gather_json({"rank": dp.rank, "text": "x" * (dp.rank * 5)})
        out["share"] = [dp.share(8).start, dp.share(8).stop]
        order = []
        dp.main_first(lambda: order.append(time.time()))
        out["main_first"] = dp.gather_json(order[0])
        x = pg.from_numpy(np.arange(6, dtype=np.float32) * (dp.rank + 1))
        dp.group.all_reduce(x, "max")
        out["max"] = x.numpy().tolist()
    elif mode == "transcription":
        from pianograd.transcription.config import TrainConfig
        from pianograd.transcription.train import Trainer

        cfg = TrainConfig.from_dict(json.loads(args[0]))
        t = Trainer(cfg, quiet=True)
        s = t.run(stop_at=int(args[1]) if len(args) > 1 else None)
        out["steps"] = s["steps"]
        out["spread"] = params_digest(t._trainable() + list(t.piano.parameters()))
        out["reducer"] = dp.stats()
    elif mode == "omr":
        from pianograd.omr.train import OmrTrainConfig, Trainer as OmrTrainer

        import pianograd.omr.self_train as self_train

        # A stand-in reader (an untrained net reads nothing confidently): strips of even width "read" as
        # [1, 2], so the pooled pseudo-labels can be checked against the whole unlabelled set.
        self_train.pseudo_labels = lambda net, strips, max_nll: [[1, 2] if s.shape[1] % 2 == 0 else None
                                                                 for s in strips]
        cfg = OmrTrainConfig.from_dict(json.loads(args[0]))
        os.makedirs(args[1], exist_ok=True)
        t = OmrTrainer(cfg, args[1], progress=False)
        s = t.run()
        out["steps"] = s["steps"]
        out["spread"] = params_digest(list(t.net.parameters()))
        out["pseudo"] = dp.gather_json(sorted([int(i), ids] for i, ids in t.pseudo.items()))
        out["expected"] = sorted([i, [1, 2]] for i in t.unlabelled if t.train_set.strips[i].shape[1] % 2 == 0)
    elif mode == "kill":
        if dp.rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        dp.sum([1.0])
    elif mode == "stall":
        if dp.rank == 1:
            time.sleep(120)
        dp.sum([1.0])
    elif mode == "raise":
        if dp.rank == 1:
            raise ValueError("rank one cannot go on")
        dp.sum([1.0])
    if dp.is_main:
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
