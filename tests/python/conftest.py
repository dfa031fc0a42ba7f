import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import settings  # noqa: E402

# Deterministic, CI-sized hypothesis runs (no example database writes into the tree).
settings.register_profile("pianograd", max_examples=60, deadline=None, database=None, derandomize=True)
settings.load_profile("pianograd")


@pytest.fixture(autouse=True)
def _seed():
    import pianograd as pg

    pg.manual_seed(1234)
    np.random.seed(1234)
    yield



@pytest.fixture(scope="session")
def tiny_transcription_data(tmp_path_factory):
    """prepare(name, **DataConfig overrides): a 4-chorale data set (3 s excerpts, FluidSynth audio) in a
    fresh folder, for one test module's data; skips when the FluidSynth program is missing."""
    import shutil

    from pianograd.data import DataConfig, prepare

    def make(name: str, **overrides):
        if shutil.which("fluidsynth") is None:
            pytest.skip("the FluidSynth program is not installed")
        out = tmp_path_factory.mktemp(name)
        cfg = DataConfig(**{"name": name, "pieces": 4, "seed": 7, "n_pairs": 1, "categories": ("chorale",),
                            "excerpt_s": 3.0, "min_notes": 4, **overrides})
        prepare(cfg, out, jobs=1, progress=False)
        return out

    return make
