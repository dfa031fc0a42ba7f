"""The main job's tour (pianograd.tour, `make demo`): one held-out piece through h, g and LM^M, with every
file the report links to written and readable."""
import math
import re
import shutil

import numpy as np
import pytest

import pianograd as pg

pytestmark = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the FluidSynth program is not installed")


@pytest.fixture(scope="module")
def toured(tiny_transcription_data, tmp_path_factory):
    from pianograd import tour

    data = tiny_transcription_data("tour")
    out = tmp_path_factory.mktemp("tour")
    return out, tour.run(out, budget_s=60, steps=2, data=str(data), threads=1, quiet=True, lm_seconds=2.0)


def test_tour_writes_every_file_its_report_links(toured):
    out, _ = toured
    md = (out / "report.md").read_text()
    for head in ("## h: audio → performance", "## g: score image → performance", "## LM^M: the motion language model"):
        assert head in md
    links = set(re.findall(r"\]\(([^)]+)\)", md))
    assert {"score.png", "score_read.mid", "score_read.wav", "transcription.mid", "transcription.wav",
            "continuation.mid", "continuation.wav", "score_roll.png", "continuation_roll.png",
            "transcription/report.md"} <= links
    for link in links:
        assert (out / link).is_file(), link
    for png in ("score.png", "score_roll.png", "continuation_roll.png"):
        assert pg.read_image(str(out / png)).shape[0] > 100
    for wav in ("score_read.wav", "transcription.wav", "continuation.wav"):
        x, sr = pg.read_audio(str(out / wav))
        assert sr == 16000 and np.abs(np.asarray(x)).max() > 0.1


def test_tour_reads_the_score_and_continues_the_transcription(toured):
    out, r = toured
    # A chorale page in a font g never trained on reads almost whole (the shipped model's pages: 0.97+).
    assert r["g"]["n_ref"] > 50 and r["g"]["f1"] > 0.9
    assert len(pg.read_midi(str(out / "score_read.mid")).notes) == r["g"]["n_est"]
    assert 0 < r["h_shipped"]["note"] <= 1 and "the shipped transcriber" in (out / "report.md").read_text()
    lm = r["lm"]
    vocab = pg.MotionTokenizer().vocab_size
    for name, s in lm["nll"].items():  # every model does far better than guessing among the tokens
        assert 0 < s["nll_per_event"] < 0.7 * math.log(vocab), name
    assert lm["prompt_notes"] > 0 and lm["new_notes"] > 0
    whole = pg.read_midi(str(out / "continuation.mid"))
    assert len(whole.notes) >= lm["prompt_notes"] + lm["new_notes"] - 2


def test_held_out_everywhere_follows_the_shipped_models_splits():
    from pianograd.data.catalog import catalog
    from pianograd.data.splits import split_of
    from pianograd.tour import held_out_everywhere

    groups = {p.group for p in catalog()}
    held = [g for g in groups if held_out_everywhere(g)]
    assert held and len(held) < len(groups) / 5
    for g in held:  # test for the OMR and LM splits (0.1) and the transcription data's (0.15)
        assert split_of(g, 0, 0.1, 0.1) == "test" and split_of(g, 0, 0.1, 0.15) == "test"
