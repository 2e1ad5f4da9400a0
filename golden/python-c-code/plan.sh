#!/bin/sh
# pylockenv plan for app.yml
# mode: cached; env hash c67df6e8ef294d94 = sha256('node7:3.13:/srv/apps/demo/pylock.toml:1763985600.123456')[:16]
# python: 3.13 (default), found as /opt/python/3.13.4/bin/python3.13, Python 3.13.4
set -eu
uv_path=/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94.lock
  $flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94  # a half-made or broken env in its place
    env PATH="$uv_path" /opt/uv/bin/uv venv -p /opt/python/3.13.4/bin/python3.13 /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94  # create-venv
    env PATH="$uv_path" /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/bin/python -r /srv/apps/demo/pylock.toml  # install-pylock
    : > /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi
if [ -L /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.in-use ]; then printf '%s\n' 'pylockenv: /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.in-use is a symbolic link; remove it and run again' >&2; exit 125; fi
if true 2>/dev/null >>/scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.in-use; then  # not on a read-only cache
  exec 8>>/scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.in-use
  $flock -s 8  # the in-use lock, held by the command: gc leaves the env alone
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/.provisioned ]; then printf '%s\n' 'pylockenv: env c67df6e8ef294d94 was removed (by gc?) meanwhile; run again' >&2; exit 125; fi
fi

# the command; arguments given to this script are appended
exec env PATH="$run_path" /scratch/alice/cache/bfabric_app_runner/envs/c67df6e8ef294d94/bin/python -c 'import demo; demo.main()' "$@"
