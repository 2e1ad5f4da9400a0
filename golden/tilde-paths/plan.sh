#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml
# mode: cached; env hash 84df1b36b1b56a41 = sha256('node7:3.11:/home/alice/locks/pylock.toml:1763985600.123456:/home/alice/wheels/demo-1.0-py3-none-any.whl')[:16]
# python: 3.11 (host default)
set -eu
uv_path=/home/alice/.local/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin:/home/alice/.local/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41.lock
  flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41  # a half-made or broken env in its place
    env PATH="$uv_path" /opt/uv/bin/uv venv -p 3.11 /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41  # create-venv
    env PATH="$uv_path" /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin/python -r /home/alice/locks/pylock.toml  # install-pylock
    env PATH="$uv_path" /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin/python --no-deps /home/alice/wheels/demo-1.0-py3-none-any.whl  # install-local-extras
    : > /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi

# the command; arguments given to this script are appended
exec env PATH="$run_path" /scratch/alice/cache/bfabric_app_runner/envs/84df1b36b1b56a41/bin/python -m demo "$@"
