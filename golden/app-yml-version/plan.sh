#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml: versions[0].commands.process
# mode: cached; env hash d56eb47736bd1d61 = sha256('node7:3.12:/srv/apps/demo/locks/pylock.toml:1763985600.123456:/srv/apps/demo/dist/demo-1.1-py3-none-any.whl')[:16]
# python: 3.12 (spec), found as /opt/python/3.12.4/bin/python3.12, Python 3.12.4
set -eu
uv_path=/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
run_path=/scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61.lock
  $flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61  # a half-made or broken env in its place
    env PATH="$uv_path" APP_DIR=/srv/apps/demo APP_ID=42 'LITERAL=${HOME}' /opt/uv/bin/uv venv -p /opt/python/3.12.4/bin/python3.12 /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61  # create-venv
    env PATH="$uv_path" APP_DIR=/srv/apps/demo APP_ID=42 'LITERAL=${HOME}' /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/python -r /srv/apps/demo/locks/pylock.toml  # install-pylock
    env PATH="$uv_path" APP_DIR=/srv/apps/demo APP_ID=42 'LITERAL=${HOME}' /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/python --no-deps /srv/apps/demo/dist/demo-1.1-py3-none-any.whl  # install-local-extras
    : > /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi
if [ -L /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.in-use ]; then printf '%s\n' 'pylockenv: /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.in-use is a symbolic link; remove it and run again' >&2; exit 125; fi
if true 2>/dev/null >>/scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.in-use; then  # not on a read-only cache
  exec 8>>/scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.in-use
  $flock -s 8  # the in-use lock, held by the command: gc leaves the env alone
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/.provisioned ]; then printf '%s\n' 'pylockenv: env d56eb47736bd1d61 was removed (by gc?) meanwhile; run again' >&2; exit 125; fi
fi

# the command; arguments given to this script are appended
if [ -e /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/demo-process ] || [ -L /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/demo-process ]; then
  exec env PATH="$run_path" APP_DIR=/srv/apps/demo APP_ID=42 'LITERAL=${HOME}' /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/demo-process --version 1.1 --app Demo_App "$@"
elif [ -e demo-process ]; then
  exec env PATH="$run_path" APP_DIR=/srv/apps/demo APP_ID=42 'LITERAL=${HOME}' /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin/python demo-process --version 1.1 --app Demo_App "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: versions[0].commands.process: command: '"'"'demo-process'"'"' is neither a console script in /scratch/alice/cache/bfabric_app_runner/envs/d56eb47736bd1d61/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
