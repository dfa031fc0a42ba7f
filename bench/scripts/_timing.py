"""Timing helpers of the comparison scripts (ours vs PyTorch, same process, same threads)."""
import statistics
import time


def time_interleaved(steps, repeats):
    """All `repeats` times of each step function, alternating them so that both see the same machine
    load (the numbers are taken on a shared machine)."""
    for step in steps:
        step()  # warm-up (allocations, lazy init)
    times = [[] for _ in steps]
    for _ in range(repeats):
        for i, step in enumerate(steps):
            t0 = time.perf_counter()
            step()
            times[i].append(time.perf_counter() - t0)
    return times


def print_ratios(t_ours, t_torch):
    """Best and median step times side by side with torch/ours. Best of N is each library's speed with
    the least interference; the median says how steady it is."""
    print(f"{'':8} {'pianograd':>12} {'torch':>12} {'torch/ours':>12}")
    for name, pick in (("best", min), ("median", statistics.median)):
        a, b = pick(t_ours), pick(t_torch)
        print(f"{name:8} {a * 1e3:10.1f}ms {b * 1e3:10.1f}ms {b / a:12.2f}")
