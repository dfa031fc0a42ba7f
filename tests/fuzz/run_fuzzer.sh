#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SECONDS WORKDIR CORPUS... — one libFuzzer run as `make test-fuzz` makes it: new
# inputs are kept in WORKDIR (so the committed corpora are never written), a single input may take 10 s
# and 2 GB, and the run ends after SECONDS. Any finding (crash, sanitizer report, leak, timeout, an
# exception other than our typed errors) makes libFuzzer exit non-zero and leave crash-*/timeout-* files
# in the current folder; copy them to tests/fuzz/regressions/<name>/ once fixed.
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
     -print_final_stats=1 "$work" "$@"
