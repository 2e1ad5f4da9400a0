#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml
# mode: ephemeral; env hash c67df6e8ef294d94 = sha256('node7:3.13:/srv/apps/demo/pylock.toml:1763985600.123456')[:16]
# python: 3.13 (default), found as /opt/python/3.13.4/bin/python3.13, Python 3.13.4
set -eu
uv_path=/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

mkdir -p /scratch/alice/cache/bfabric_app_runner/ephemeral
mkdir -m 700 /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468
trap 'rm -rf /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468' EXIT  # ephemeral: removed whatever happens
exec 8</scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468
$flock -s 8  # the env's directory lock, held while it lives: gc leaves it alone
env PATH="$uv_path" /opt/uv/bin/uv venv -p /opt/python/3.13.4/bin/python3.13 /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468  # create-venv
env PATH="$uv_path" /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/python -r /srv/apps/demo/pylock.toml --reinstall  # install-pylock

# the command; arguments given to this script are appended
if [ -e /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process ] || [ -L /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process ]; then
  env PATH="$run_path" /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process "$@"
elif [ -e demo-process ]; then
  env PATH="$run_path" /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/python demo-process "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: command: '"'"'demo-process'"'"' is neither a console script in /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
