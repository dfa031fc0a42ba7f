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
