"""Progress output fit for logs (issue 15, item 8): no carriage returns outside a terminal, one line every
few seconds at most, a final line at the end; a real bar on a terminal."""
import io
import re
import subprocess
import sys
from pathlib import Path

import pianograd as pg
from pianograd.progress_report import LogProgress, progress_bar

PACKAGE = Path(pg.__file__).resolve().parent


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_fast_loop_to_a_file_prints_one_line():
    out, clock = io.StringIO(), FakeClock()
    bar = progress_bar(total=10000, desc="train", unit="step", file=out, interval=10, clock=clock)
    assert isinstance(bar, LogProgress)
    for _ in range(10000):
        bar.update(1)
        bar.set_postfix(loss="0.25")
    bar.close()
    text = out.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [text.splitlines()[0]]
    assert text.startswith("train: 10000/10000 step (100%)") and "loss=0.25" in text


def test_lines_are_rate_limited_by_the_interval():
    out, clock = io.StringIO(), FakeClock()
    with progress_bar(total=100, desc="prepare", unit="piece", file=out, interval=5, clock=clock) as bar:
        for _ in range(100):
            clock.t += 1.0  # one second per piece: a line every 5 pieces, then the final one
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 20  # 100 s / 5 s; the last periodic line already shows 100/100
    assert lines[0].startswith("prepare: 5/100 piece (5%)") and "left" in lines[0]
    assert lines[-1].startswith("prepare: 100/100 piece (100%), 01:40 elapsed")


def test_iterating_an_iterable_and_initial_count():
    out, clock = io.StringIO(), FakeClock()
    seen = list(progress_bar(range(7), desc="eval", file=out, interval=60, clock=clock))
    assert seen == list(range(7))
    assert out.getvalue().splitlines() == ["eval: 7/7 it (100%), 00:00 elapsed"]
    out2 = io.StringIO()
    bar = progress_bar(total=50, initial=40, desc="resume", unit="step", file=out2, interval=60, clock=clock)
    bar.update(10)
    bar.close()
    assert out2.getvalue().startswith("resume: 50/50 step (100%)")


def test_disabled_and_unknown_total():
    out = io.StringIO()
    bar = progress_bar(total=3, file=out, disable=True)
    bar.update(3)
    bar.close()
    assert out.getvalue() == ""
    out, clock = io.StringIO(), FakeClock()
    for _ in progress_bar(iter(range(4)), desc="stream", unit="file", file=out, clock=clock, interval=60):
        pass
    assert out.getvalue().startswith("stream: 4 file, ")


def test_a_terminal_gets_a_redrawing_bar():
    term = FakeTerminal()
    bar = progress_bar(total=3, desc="tty", file=term)
    assert not isinstance(bar, LogProgress)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert "\r" in term.getvalue()


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIANOGRAD_PROGRESS_INTERVAL", "2.5")
    assert LogProgress(total=1, file=io.StringIO()).interval == 2.5
    monkeypatch.setenv("PIANOGRAD_PROGRESS_INTERVAL", "soon")  # unparsable: the default, not an error
    assert LogProgress(total=1, file=io.StringIO()).interval == 10.0


def test_pg_progress_wraps_iterables():
    out = io.StringIO()
    assert list(pg.progress([1, 2, 3], desc="x", file=out)) == [1, 2, 3]
    assert "\r" not in out.getvalue() and out.getvalue().startswith("x: 3/3 it (100%)")


def test_no_module_draws_tqdm_bars_directly():
    # Every loop must go through progress_bar, or a log gets carriage-return redraws again.
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "progress_report.py" and re.search(r"^\s*(from tqdm|import tqdm)", p.read_text(), re.M)]
    assert offenders == []


def test_a_piped_training_log_has_no_carriage_returns(tmp_path):
    # The real path: a transcriber training loop whose stderr is a pipe (as in CI or `make demo > log`).
    code = (
        "import pianograd as pg\n"
        "from pianograd.progress_report import progress_bar\n"
        "bar = progress_bar(total=2000, desc='train', unit='step')\n"
        "for i in range(2000):\n"
        "    bar.update(1); bar.set_postfix(loss=f'{1.0 / (i + 1):.4f}')\n"
        "bar.close()\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "\r" not in res.stderr
    assert len(res.stderr.splitlines()) <= 3 and "train: 2000/2000 step (100%)" in res.stderr
