#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml: commands.process
# mode: cached; env hash e960fe2a5dc380d5 = sha256('node7:3.12:/srv/apps/demo/locks/pylock.toml:1763985600.123456:/srv/apps/demo/dist/demo-1.0-py3-none-any.whl,/home/alice/src/demo-plugins,/opt/shared/helpers-2.0-py3-none-any.whl')[:16]
# python: 3.12 (spec), found as /opt/python/3.12.4/bin/python3.12, Python 3.12.4
set -eu
uv_path=/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin:/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5.lock
  $flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5  # a half-made or broken env in its place
    env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv venv -p /opt/python/3.12.4/bin/python3.12 /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5  # create-venv
    env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/python -r /srv/apps/demo/locks/pylock.toml  # install-pylock
    env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/python --no-deps /srv/apps/demo/dist/demo-1.0-py3-none-any.whl /home/alice/src/demo-plugins /opt/shared/helpers-2.0-py3-none-any.whl  # install-local-extras
    : > /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi
if [ -L /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.in-use ]; then printf '%s\n' 'pylockenv: /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.in-use is a symbolic link; remove it and run again' >&2; exit 125; fi
if true 2>/dev/null >>/scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.in-use; then  # not on a read-only cache
  exec 8>>/scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.in-use
  $flock -s 8  # the in-use lock, held by the command: gc leaves the env alone
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/.provisioned ]; then printf '%s\n' 'pylockenv: env e960fe2a5dc380d5 was removed (by gc?) meanwhile; run again' >&2; exit 125; fi
fi

# the command; arguments given to this script are appended
if [ -e /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/demo-process ] || [ -L /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/demo-process ]; then
  exec env PATH="$run_path" DATA_PATH=/data LOG_LEVEL=debug /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/demo-process --input /data/in.csv "$@"
elif [ -e demo-process ]; then
  exec env PATH="$run_path" DATA_PATH=/data LOG_LEVEL=debug /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin/python demo-process --input /data/in.csv "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: commands.process: command: '"'"'demo-process'"'"' is neither a console script in /scratch/alice/cache/bfabric_app_runner/envs/e960fe2a5dc380d5/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
