#!/bin/sh
# Describe the machine, then run every benchmark in turn; each prints its tables.
# Usage: sh bench/run_all.sh [--quick]
#   with `python` on PATH, or the interpreter named by $PYTHON (one with pylockenv's
#   dependencies and `build`); --quick (or BENCH_QUICK=1) takes fewer repetitions.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python}
case "${1-}" in
--quick) BENCH_QUICK=1; export BENCH_QUICK ;;
"") ;;
*) echo "usage: sh bench/run_all.sh [--quick]" >&2; exit 2 ;;
esac
started=$(date +%s)
"$python" "$here/machine.py"
echo
for bench in warm_cli in_process cold_provision concurrent_cold scale; do
    echo "== bench/$bench.py"
    "$python" "$here/$bench.py"
    echo
done
echo "all benchmarks: $(($(date +%s) - started))s"
