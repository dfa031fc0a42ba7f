"""The `pianograd` command line."""
import json
import subprocess
import sys

from pianograd import cli


def test_info_prints_build_facts(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("pianograd", "SIMD ISA in use", "threads", "CUDA available"):
        assert key in out
    assert cli.main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["SIMD ISA in use"] in ("scalar", "sse2", "avx2", "avx512")


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "pianograd", "--version"], capture_output=True, text=True, check=True)
    import pianograd

    assert r.stdout.strip() == pianograd.__version__


def test_bench_summary_table(capsys):
    report = {"context": {"num_cpus": 2}, "benchmarks": [
        {"name": "BM_add/simd/4096", "run_type": "iteration", "real_time": 1500.0, "cpu_time": 1400.0,
         "time_unit": "ns", "iterations": 1000, "bytes_per_second": 3.2e10},
        {"name": "BM_add/scalar/4096", "run_type": "iteration", "real_time": 12.5, "cpu_time": 12.0,
         "time_unit": "us", "iterations": 50, "items_per_second": 3.3e8},
    ]}
    rows = cli.summarize(report)
    assert rows[0][:2] == ["BM_add/simd/4096", "1.5 us"] and rows[0][4] == "32 GB/s"
    assert rows[1][1] == "12.5 us" and rows[1][4] == "330 Mitems/s"
    cli.print_table(["benchmark", "time", "cpu", "iterations", "throughput"], rows)
    assert "BM_add/scalar/4096" in capsys.readouterr().out


def test_bench_missing_executable_is_reported(capsys):
    assert cli.main(["bench", "--exe", "/nonexistent/pianograd_bench"]) == 2
    assert "not found" in capsys.readouterr().err


def test_info_self_test_checks_the_kernels_on_the_isa_in_use(capsys):
    import pianograd as pg

    assert cli.main(["info", "--self-test"]) == 0
    out = capsys.readouterr().out
    assert "ISAs this CPU supports" in out
    line = [l for l in out.splitlines() if l.startswith("self-test ")]
    assert len(line) == 1 and line[0].startswith(f"self-test {pg.active_isa()}:") and "all within bounds" in line[0]
    assert cli.main(["info", "--json", "--all-isas"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["isa"] for t in data["self_test"]] == pg.supported_isas()
    assert all(t["ok"] and t["checks"] > 1000 and not t["failures"] for t in data["self_test"])


def test_info_reports_the_pianograd_isa_request():
    import os

    env = dict(os.environ, PIANOGRAD_ISA="sse2")
    r = subprocess.run([sys.executable, "-m", "pianograd", "info"], capture_output=True, text=True, env=env, check=True)
    assert "SIMD ISA in use         sse2" in r.stdout and "PIANOGRAD_ISA" in r.stdout
    env["PIANOGRAD_ISA"] = "neon"  # not an x86 ISA: warned about, not honoured, the best ISA runs
    r = subprocess.run([sys.executable, "-m", "pianograd", "info"], capture_output=True, text=True, env=env, check=True)
    assert "neon (not honoured)" in r.stdout
    assert "PIANOGRAD_ISA=neon is none of scalar, sse2, avx2, avx512" in r.stderr


def test_bench_runs_per_isa(capsys):
    import pianograd as pg

    exe = cli._find_bench(None)
    if exe is None:
        import pytest

        pytest.skip("pianograd_bench not built (PIANOGRAD_BENCH=OFF)")
    isas = pg.supported_isas()[:2]  # scalar and sse2 on any x86-64 host
    args = ["bench", "--exe", str(exe), "--isa", ",".join(isas), "--filter", "BM_add/simd/4096", "--min-time", "0.01"]
    assert cli.main(args + ["--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert list(reports) == isas
    for isa, rep in reports.items():
        assert rep["context"]["isa"] == isa
        assert [b["label"] for b in rep["benchmarks"]] == [isa]  # the dispatched kernel ran under it
    assert cli.main(["bench", "--exe", str(exe), "--isa", "avx9000"]) != 0
