"""The transcriber's branches through the trainer on a tiny configuration: the velocity branch (issue 15,
item 2) and the note refinement branch (item 1), each grown onto a trained model and trained alone (the
velocity with the spread and relative velocity loss, the refinement with the note losses), every other
weight frozen (and no longer requiring gradients); and every shipped training config parses."""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import pianograd as pg
from pianograd.transcription.config import TrainConfig
from pianograd.transcription.train import Trainer, make_model, train

ROOT = Path(__file__).resolve().parents[2]
TINY = {"key_channels": 8, "temporal_channels": 8, "frame_channels": 4}


@pytest.fixture(scope="module")
def data(tiny_transcription_data):
    return tiny_transcription_data("tinyvelocity", seed=5, n_pairs=2)


BRANCHES = {
    # velocity: the spread and relative velocity loss alone
    "velocity": ({"velocity_channels": 4, "velocity_readout": 4},
                 {"onset": 0.0, "frame": 0.0, "offset": 0.0, "velocity": 1.0, "velocity_spread": 1,
                  "velocity_relative": 0.9}),
    # note refinement (issue 15, item 1): the note losses alone
    "refine": ({"refine_channels": 4, "refine_readout": 4, "refine_dilations": [1, 2]},
               {"velocity": 0.0, "pedal": 0.0}),
}


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_a_branch_trains_alone(branch, data, tmp_path):
    model, weights = BRANCHES[branch]
    base = pg.Transcriber(pg.TranscriberConfig(seed=3, **TINY))
    path = tmp_path / "base.safetensors"
    base.save(str(path))
    cfg = TrainConfig(data=str(data), n_pairs=2, init=str(path), model=model, trainable=[branch],
                      loss_weights=weights, synthetic=False, steps=4, batch=2, segment_s=1.0, lr=1e-2,
                      warmup_steps=1, out=str(tmp_path / "run"), checkpoint_every=2, log_every=1, threads=1)
    t = Trainer(cfg, quiet=True)
    frozen = [n for n, p in t.model.named_parameters() if not p.requires_grad]
    assert frozen and all(not n.startswith(branch) for n in frozen)
    assert sorted(frozen) == sorted(n for n, _ in base.named_parameters())
    s = train(replace(cfg, out=str(tmp_path / "run2")), quiet=True)
    after = pg.Transcriber.load(s["model"]).state_dict()
    for k, v in base.state_dict().items():
        np.testing.assert_array_equal(after[k].numpy(), v.numpy(), err_msg=f"{k} changed but was frozen")
    grown = make_model(cfg).state_dict()  # the fresh branch: its output layer starts at zero
    assert not grown[f"{branch}_head_weight"].numpy().any()
    assert after[f"{branch}_head_weight"].numpy().any()


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "transcription").glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_training_config_parses(path):
    cfg = TrainConfig.load(path)
    pg.LossWeights(**cfg.loss_weights)  # unknown weights raise TypeError
    merged = {**json.loads(pg.TranscriberConfig().to_json()), **cfg.model}
    pg.TranscriberConfig.from_json(json.dumps(merged))  # unknown or invalid model fields raise ValueError
