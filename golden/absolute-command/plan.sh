#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml
# mode: cached; env hash 95a338b12fddb950 = sha256('node7:3.11:/srv/locks/pylock.toml:1763985600.123456')[:16]
# python: 3.11 (host default)
set -eu
uv_path=/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950.lock
  flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950  # a half-made or broken env in its place
    env PATH="$uv_path" /opt/uv/bin/uv venv -p 3.11 /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950  # create-venv
    env PATH="$uv_path" /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/bin/python -r /srv/locks/pylock.toml  # install-pylock
    : > /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi

# the command; arguments given to this script are appended
if [ -e /opt/tools/bin/report ] || [ -L /opt/tools/bin/report ]; then
  exec env PATH="$run_path" /opt/tools/bin/report --fast "$@"
else
  printf '%s\n' 'pylockenv: /srv/apps/demo/app.yml: command: /opt/tools/bin/report is neither a console script in /scratch/alice/cache/bfabric_app_runner/envs/95a338b12fddb950/bin nor a file for Python to run' >&2
  exit 127
fi
