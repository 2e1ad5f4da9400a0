#!/bin/sh
# pylockenv plan for /srv/my apps/app.yml
# mode: cached; env hash e3584bb135442ad2 = sha256('node7:3.13:/srv/my apps/pylock.toml:1763985600.123456')[:16]
# python: 3.13 (default), found as /opt/python/3.13.4/bin/python3.13, Python 3.13.4
set -eu
uv_path='/srv/my apps/my tools:/usr/local/bin:/usr/bin:/bin'  # PATH for the uv steps
run_path='/scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin:/srv/my apps/my tools:/usr/local/bin:/usr/bin:/bin'  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/alice/cache/bfabric_app_runner/envs
  exec 9>>/scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2.lock
  $flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned ] || [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/python ]; then
    rm -rf /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2  # a half-made or broken env in its place
    env PATH="$uv_path" 'GREETING=hello world' 'PRICE=$5 "net"' /opt/uv/bin/uv venv -p /opt/python/3.13.4/bin/python3.13 /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2  # create-venv
    env PATH="$uv_path" 'GREETING=hello world' 'PRICE=$5 "net"' /opt/uv/bin/uv pip install -p /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/python -r '/srv/my apps/pylock.toml'  # install-pylock
    : > /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned.tmp && mv /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned.tmp /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi
if [ -L /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.in-use ]; then printf '%s\n' 'pylockenv: /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.in-use is a symbolic link; remove it and run again' >&2; exit 125; fi
if true 2>/dev/null >>/scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.in-use; then  # not on a read-only cache
  exec 8>>/scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.in-use
  $flock -s 8  # the in-use lock, held by the command: gc leaves the env alone
  if [ ! -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/.provisioned ]; then printf '%s\n' 'pylockenv: env e3584bb135442ad2 was removed (by gc?) meanwhile; run again' >&2; exit 125; fi
fi

# the command; arguments given to this script are appended
if [ -e /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/demo-report ] || [ -L /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/demo-report ]; then
  exec env PATH="$run_path" 'GREETING=hello world' 'PRICE=$5 "net"' /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/demo-report 'two words' 'it'"'"'s' '$HOME' "$@"
elif [ -e demo-report ]; then
  exec env PATH="$run_path" 'GREETING=hello world' 'PRICE=$5 "net"' /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin/python demo-report 'two words' 'it'"'"'s' '$HOME' "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/my apps/app.yml: command: '"'"'demo-report'"'"' is neither a console script in /scratch/alice/cache/bfabric_app_runner/envs/e3584bb135442ad2/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
