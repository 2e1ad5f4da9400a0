#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml
# mode: ephemeral; env hash c67df6e8ef294d94 = sha256('node7:3.13:/srv/apps/demo/pylock.toml:1763985600.123456')[:16]
# python: 3.13 (default), found as /opt/python/3.13.4/bin/python3.13, Python 3.13.4
set -eu
uv_path=/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
flock=flock
if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock
  printf '%s\n' 'pylockenv: no flock(1) here: running without the locks that keep concurrent runs and gc apart' >&2
  flock=:
fi

mkdir -p /scratch/alice/cache/bfabric_app_runner/ephemeral
tries=0
while :; do  # draw the env's name until its lock file can be made new
  env=/scratch/alice/cache/bfabric_app_runner/ephemeral/env_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  if (set -C; printf '%s\n' node7 >"$env.lock") 2>/dev/null; then break; fi
  tries=$((tries + 1))
  if [ "$tries" -ge 8 ]; then printf '%s\n' 'pylockenv: cannot create a lock file in /scratch/alice/cache/bfabric_app_runner/ephemeral; check its permissions' >&2; exit 125; fi
done
exec 8<"$env.lock"
$flock -s 8  # the env's lock, held while it lives: gc leaves it alone
trap 'rm -f "$env.lock"' EXIT
mkdir "$env"
trap 'rm -rf "$env"; rm -f "$env.lock"' EXIT  # ephemeral: removed whatever happens
env PATH="$uv_path" /opt/uv/bin/uv venv --no-config --link-mode copy -p /opt/python/3.13.4/bin/python3.13 "$env"  # create-venv
env PATH="$uv_path" /opt/uv/bin/uv pip install --no-config --link-mode copy -p "$env"/bin/python -r /srv/apps/demo/pylock.toml --reinstall  # install-pylock
run_path="$env"/bin:/usr/local/bin:/usr/bin:/bin  # PATH for the command

# the command; arguments given to this script are appended
if [ -e "$env"/bin/demo-process ] || [ -L "$env"/bin/demo-process ]; then
  env -u CONDA_PREFIX -u PYTHONHOME PATH="$run_path" VIRTUAL_ENV="$env" "$env"/bin/demo-process "$@"
elif [ -e demo-process ]; then
  env -u CONDA_PREFIX -u PYTHONHOME PATH="$run_path" VIRTUAL_ENV="$env" "$env"/bin/python demo-process "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: command: '"'"'demo-process'"'"' is neither a console script in '"$env"'/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
