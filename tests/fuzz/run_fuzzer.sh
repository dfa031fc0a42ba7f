#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SECONDS RUNS SEED WORKDIR CORPUS... — one libFuzzer run as `make test-fuzz` makes
# it. New inputs are kept in WORKDIR, so the committed corpora are never written. A single input may
# take 10 s and 2 GB. The run ends after RUNS inputs (-1: no limit) or SECONDS, whichever comes first.
# SEED 0 draws a fresh seed. A fixed seed with a run count (make test's default) tries the same inputs
# on every machine, so a short run in CI cannot fail where it passed here; long runs explore.
# Any finding (crash, sanitizer report, leak, timeout, an exception other than our typed errors, a
# broken property) makes libFuzzer exit non-zero and leave crash-*/timeout-* files in the current
# folder. Once fixed, copy them to tests/fuzz/regressions/<name>/.
set -euo pipefail
fuzzer=$1 seconds=$2 runs=$3 seed=$4 work=$5
shift 5
# A counted run starts from the seeds alone, as it would in a fresh clone; an open-ended one keeps
# growing the corpus it found before.
if [ "$runs" != -1 ]; then rm -rf "$work"; fi
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -runs="$runs" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
     -max_len=65536 -print_final_stats=1 "$work" "$@"
