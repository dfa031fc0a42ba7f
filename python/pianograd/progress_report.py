"""Progress output that suits where it goes (issue 15, item 8).

On a terminal (or in a notebook) a tqdm bar redraws in place. Anywhere else - a file, a pipe, a CI log -
redrawing writes one carriage-return update per step, thousands of them per run, so there the same calls
print a plain line at most every ``interval`` seconds (``PIANOGRAD_PROGRESS_INTERVAL``, default 10) and one
final line when the loop ends.

Every long loop of the package goes through :func:`progress_bar`; it takes the tqdm arguments the
package uses (``iterable``, ``total``, ``desc``, ``unit``, ``initial``, ``disable``, ``file``) and returns
an object with tqdm's ``update``, ``set_postfix``, ``set_postfix_str``, ``close``, ``write``, iteration
and context-manager protocol.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TextIO

DEFAULT_INTERVAL_S = 10.0


def _interval() -> float:
    raw = os.environ.get("PIANOGRAD_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value >= 0 else DEFAULT_INTERVAL_S


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where tqdm.auto draws a widget instead of carriage returns."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel always brings IPython
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class LogProgress:
    """tqdm's interface, printing whole lines at most every ``interval`` seconds (and at the end)."""

    def __init__(self, iterable: Optional[Iterable[Any]] = None, total: Optional[float] = None,
                 desc: str = "", unit: str = "it", initial: float = 0, disable: bool = False,
                 file: Optional[TextIO] = None, interval: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic, **_ignored: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.total, self.desc, self.unit = total, desc, unit
        self.n = initial
        self.disable = disable
        self.file = file
        self.interval = _interval() if interval is None else float(interval)
        self._clock = clock
        self._start = clock()
        self._last_print = self._start
        self._postfix = ""
        self._closed = False
        self._printed_n: Optional[float] = None

    # --- tqdm API used by the package
    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LogProgress: no iterable to iterate over")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        if self.disable:
            return
        now = self._clock()
        if now - self._last_print >= self.interval:
            self._emit(now)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self._postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self._postfix = str(s)

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = desc

    def refresh(self) -> None:
        pass

    def write(self, s: str) -> None:
        print(s, file=self._stream(), flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.disable and self._printed_n != self.n:
            self._emit(self._clock())

    # --- formatting
    def _stream(self) -> TextIO:
        return self.file if self.file is not None else sys.stderr

    def _emit(self, now: float) -> None:
        self._last_print = now
        self._printed_n = self.n
        elapsed = now - self._start
        n = int(self.n) if float(self.n).is_integer() else round(self.n, 2)
        parts = [f"{self.desc}: " if self.desc else ""]
        if self.total:
            parts.append(f"{n}/{int(self.total)} {self.unit} ({100.0 * self.n / self.total:.0f}%)")
        else:
            parts.append(f"{n} {self.unit}")
        parts.append(f", {_fmt_seconds(elapsed)} elapsed")
        if elapsed > 0 and self.n > 0:
            rate = self.n / elapsed
            parts.append(f", {rate:.3g} {self.unit}/s")
            if self.total and self.n < self.total:
                parts.append(f", ~{_fmt_seconds((self.total - self.n) / rate)} left")
        if self._postfix:
            parts.append(f", {self._postfix}")
        print("".join(parts), file=self._stream(), flush=True)


def progress_bar(iterable: Optional[Iterable[Any]] = None, **kwargs: Any) -> Any:
    """A tqdm bar on a terminal or in a notebook; a :class:`LogProgress` (whole lines) anywhere else."""
    stream = kwargs.get("file") or sys.stderr
    if _in_notebook() or _is_terminal(stream):
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency; keep the library usable without it
            return LogProgress(iterable, **kwargs)
        kwargs.pop("interval", None)
        kwargs.pop("clock", None)
        return tqdm(iterable, **kwargs)
    return LogProgress(iterable, **kwargs)
