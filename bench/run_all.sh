#!/bin/sh
# Run every benchmark in turn with the dev interpreter (or $PYTHON); each prints its table.
# Usage: sh bench/run_all.sh        (about 3-5 minutes on 2 cores)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python}
for bench in warm_cli in_process cold_provision concurrent_cold scale; do
    echo "== bench/$bench.py"
    "$python" "$here/$bench.py"
    echo
done
