"""The plot the sample-efficiency experiments share (transcription, OMR): one line per training arm
against the pair budget N (log-like axis with N = 0 on it), seeds' spread as error bars, written
atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np


def arms_against_budget(ax, budgets: Sequence[int], arms: Sequence[str], titles: Dict[str, str],
                        values: Callable[[int, str], Optional[List[float]]], xlabel: str, ylabel: str) -> None:
    for arm in arms:
        pts = [(n, values(n, arm)) for n in budgets]
        pts = [(n, v) for n, v in pts if v is not None]
        if pts:
            ax.errorbar([max(n, 0.5) for n, _ in pts], [float(np.mean(v)) for _, v in pts],
                        yerr=[float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for _, v in pts],
                        marker="o", capsize=3, label=titles[arm])
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(list(budgets))
    ax.set_xticklabels([str(n) for n in budgets])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()


def save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def footer(alt: str, seconds: float, command: str, cells: str) -> List[str]:
    """The report's closing lines: the plot, the time taken, how to regenerate it, where the cells are."""
    return ["", f"![{alt}](sample_efficiency.png)", "",
            f"Total time {seconds:.0f} s. Regenerate with the command in the README (`{command}`); {cells} "
            "are in the N*_* folders beside this file.", ""]
