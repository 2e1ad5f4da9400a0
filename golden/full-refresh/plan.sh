#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml: commands.process
# mode: ephemeral; env hash e960fe2a5dc380d5 = sha256('node7:3.12:/srv/apps/demo/locks/pylock.toml:1763985600.123456:/srv/apps/demo/dist/demo-1.0-py3-none-any.whl,/home/alice/src/demo-plugins,/opt/shared/helpers-2.0-py3-none-any.whl')[:16]
# python: 3.12 (spec), found as /opt/python/3.12.4/bin/python3.12, Python 3.12.4
set -eu
uv_path=/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin:/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the command
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
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv venv -p /opt/python/3.12.4/bin/python3.12 /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468  # create-venv
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/python -r /srv/apps/demo/locks/pylock.toml --reinstall  # install-pylock
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/python --no-deps --reinstall /srv/apps/demo/dist/demo-1.0-py3-none-any.whl /home/alice/src/demo-plugins /opt/shared/helpers-2.0-py3-none-any.whl  # install-local-extras

# the command; arguments given to this script are appended
if [ -e /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process ] || [ -L /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process ]; then
  env PATH="$run_path" DATA_PATH=/data LOG_LEVEL=debug /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/demo-process --input /data/in.csv "$@"
elif [ -e demo-process ]; then
  env PATH="$run_path" DATA_PATH=/data LOG_LEVEL=debug /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin/python demo-process --input /data/in.csv "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: commands.process: command: '"'"'demo-process'"'"' is neither a console script in /scratch/alice/cache/bfabric_app_runner/ephemeral/env_3f9a1c0d5e7b2468/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
