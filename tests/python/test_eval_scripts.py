"""The comparison scripts run end to end on a tiny data set: scripts/eval_conditions.py (models x pianos x
the room condition) and bench/scripts/compare_basic_pitch.py's room condition (both systems must hear the
same re-recorded files)."""
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pianograd.data import DataConfig, excerpts, load_audio, load_manifest, prepare
from pianograd.transcription.config import TrainConfig
from pianograd.transcription.evaluate import ROOM_CONDITION, condition_audio
from pianograd.transcription.train import train

ROOT = Path(__file__).resolve().parents[2]
HAVE_FLUID = shutil.which("fluidsynth") is not None


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not HAVE_FLUID:
        pytest.skip("the FluidSynth program is not installed")
    root = tmp_path_factory.mktemp("scripts")
    prepare(DataConfig(name="tiny", pieces=3, seed=7, n_pairs=1, categories=("chorale",), excerpt_s=3.0,
                       min_notes=4), root / "data", jobs=1, progress=False)
    s = train(TrainConfig(data=str(root / "data"), n_pairs=1, model={"key_channels": 8, "temporal_channels": 8,
                                                                     "frame_channels": 4},
                          steps=2, batch=2, segment_s=1.0, warmup_steps=1, synthetic=False, out=str(root / "m"),
                          threads=1), quiet=True)
    return root, s["model"]


def test_eval_conditions_prints_one_row_per_model_and_condition(tiny, capsys):
    root, model = tiny
    mod = load_script(ROOT / "scripts" / "eval_conditions.py")
    out = root / "conditions.json"
    assert mod.main(["--model", f"a={model}", "--model", f"b={model}", "--data", f"clean={root / 'data'}",
                     "--room", f"room={root / 'data'}", "--json", str(out)]) == 0
    table = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ")]
    assert len(table) == 1 + 4  # header + 2 conditions x 2 models
    res = json.loads(out.read_text())
    assert set(res) == {"a | clean", "b | clean", "a | room", "b | room"}
    assert res["a | clean"] == res["b | clean"]  # the same model scores the same
    with pytest.raises(SystemExit, match="LABEL=PATH"):
        mod.main(["--model", model])


def test_basic_pitch_comparison_hears_the_room_condition(tiny, tmp_path):
    root, _ = tiny
    mod = load_script(ROOT / "bench" / "scripts" / "compare_basic_pitch.py")
    items = excerpts(load_manifest(root / "data"), "test")
    assert mod.conditioned_files(items, "clean", 1000, tmp_path) == [Path(e.wav) for e in items]
    wavs = mod.conditioned_files(items, "room", 1000, tmp_path)
    for e, w in zip(items, wavs):
        x, sr = load_audio(e.wav)
        y, sr2 = load_audio(w)
        want = condition_audio(np.asarray(x, np.float32), float(sr), ROOM_CONDITION, 1000, Path(e.wav).name)
        assert sr2 == sr and np.allclose(y, want, atol=1e-6)
    if importlib.util.find_spec("basic_pitch") is None:  # ours alone, said on stderr; else both (slow)
        assert mod.main(["--data", str(root / "data"), "--model", tiny[1], "--condition", "room"]) == 0


def test_note_errors_sorts_each_miss_and_each_invention():
    mod = load_script(ROOT / "scripts" / "note_errors.py")
    ref = [(0.0, 1.0, 60), (0.5, 0.9, 64), (1.0, 1.5, 67), (2.0, 2.5, 72), (3.0, 3.5, 50), (4.0, 4.5, 40),
           (4.6, 5.0, 40)]
    est = [(0.0, 1.0, 60), (1.0, 2.0, 67), (4.0, 5.0, 40),  # matches; the last runs over the re-strike at 4.6
           (0.6, 0.9, 60),                                  # inside the held 60: a split
           (2.1, 2.5, 72),                                  # 100 ms late: a miss and an invention
           (3.0, 3.4, 62),                                  # 12 keys above the 50 it replaces: a harmonic ghost
           (6.0, 6.5, 80)]
    got = mod.classify(ref, est)
    assert got == {"missed: absent": 2,  # 64, and 50 (only its octave came out)
                   "missed: onset 50-200 ms off": 1, "missed: a re-strike merged into an earlier note": 1,
                   "invented: onset 50-200 ms off": 1, "invented: a held note split": 1,
                   "invented: a harmonic ghost": 1, "invented: other": 1}, got


def test_note_errors_runs_on_a_split(tiny, capsys):
    root, model = tiny
    mod = load_script(ROOT / "scripts" / "note_errors.py")
    assert mod.main(["--model", model, "--data", str(root / "data"), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "reference notes" in out and "| error | notes |" in out
