#!/bin/sh
# pylockenv plan for "/srv/apps/demo/app\n: > PWNED.yml: commands.'report\\n: > PWNED'"
# mode: cached; env hash 756f737bf13203bf = sha256('node7:3.11\n: > PWNED:/srv/apps/demo/pylock.toml:1763985600.123456')[:16]
# python: '3.11\n: > PWNED' (spec), found as /opt/python/3.11.4/bin/python3.11, Python 3.11.4
set -eu
# values holding characters that do not print as themselves, spelt with printf escapes
v1=$(printf 'pylockenv: error: /srv/apps/demo/app\012: > PWNED.yml: commands.'"'"'report\\n: > PWNED'"'"': command: '"'"'/opt/x=y/bin/report'"'"' is neither a console script in /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.x'); v1=${v1%x}
uv_path=''  # PATH for the uv steps
run_path=/scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/bin  # PATH for the command
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi
nice=$(command -v nice)  # starts the programs whose path holds '=', which env(1) would take for variables

if [ ! -e /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned ] || [ ! -e /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/bin/python ]; then  # not ready: no marker, or a bin/python that does not resolve
  mkdir -p /scratch/x=y/bfabric_app_runner/envs
  exec 9>>/scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf.lock
  $flock 9  # one provisioning at a time; the others wait here
  if [ ! -e /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned ] || [ ! -e /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/bin/python ]; then
    rm -rf /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf  # a half-made or broken env in its place
    env -- -i=1 'GREETING=it'"'"'s $HOME' /opt/uv/bin/uv venv -p /opt/python/3.11.4/bin/python3.11 /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf  # create-venv
    env -- -i=1 'GREETING=it'"'"'s $HOME' /opt/uv/bin/uv pip install -p /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/bin/python -r /srv/apps/demo/pylock.toml  # install-pylock
    : > /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned.tmp && mv /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned.tmp /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned  # the marker last, atomically
  fi
  exec 9>&-
fi
if [ -L /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.in-use ]; then printf '%s\n' 'pylockenv: /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.in-use is a symbolic link; remove it and run again' >&2; exit 125; fi
if true 2>/dev/null >>/scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.in-use; then  # not on a read-only cache
  exec 8>>/scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.in-use
  $flock -s 8  # the in-use lock, held by the command: gc leaves the env alone
  if [ ! -e /scratch/x=y/bfabric_app_runner/envs/756f737bf13203bf/.provisioned ]; then printf '%s\n' 'pylockenv: env 756f737bf13203bf was removed (by gc?) meanwhile; run again' >&2; exit 125; fi
fi

# the command; arguments given to this script are appended
if [ -e /opt/x=y/bin/report ] || [ -L /opt/x=y/bin/report ]; then
  exec env PATH="$run_path" -i=1 'GREETING=it'"'"'s $HOME' "$nice" -n 0 -- /opt/x=y/bin/report --fast '$(: > PWNED)' '`: > PWNED`' "$@"
else
  printf '%s\n' "$v1" >&2
  exit 127
fi
