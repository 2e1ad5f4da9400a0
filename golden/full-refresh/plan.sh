#!/bin/sh
# pylockenv plan for /srv/apps/demo/app.yml: commands.process
# mode: ephemeral; env hash e960fe2a5dc380d5 = sha256('node7:3.12:/srv/apps/demo/locks/pylock.toml:1763985600.123456:/srv/apps/demo/dist/demo-1.0-py3-none-any.whl,/home/alice/src/demo-plugins,/opt/shared/helpers-2.0-py3-none-any.whl')[:16]
# python: 3.12 (spec), found as /opt/python/3.12.4/bin/python3.12, Python 3.12.4
set -eu
uv_path=/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the uv steps
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
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv venv --no-config --link-mode copy -p /opt/python/3.12.4/bin/python3.12 "$env"  # create-venv
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install --no-config --link-mode copy -p "$env"/bin/python -r /srv/apps/demo/locks/pylock.toml --reinstall  # install-pylock
env PATH="$uv_path" DATA_PATH=/data LOG_LEVEL=debug /opt/uv/bin/uv pip install --no-config --link-mode copy -p "$env"/bin/python --no-deps --reinstall /srv/apps/demo/dist/demo-1.0-py3-none-any.whl /home/alice/src/demo-plugins /opt/shared/helpers-2.0-py3-none-any.whl  # install-local-extras
run_path="$env"/bin:/opt/tools/bin:/home/alice/bin:/srv/apps/demo/tools:/usr/local/bin:/usr/bin:/bin  # PATH for the command

# the command; arguments given to this script are appended
if [ -e "$env"/bin/demo-process ] || [ -L "$env"/bin/demo-process ]; then
  env -u CONDA_PREFIX -u PYTHONHOME PATH="$run_path" VIRTUAL_ENV="$env" DATA_PATH=/data LOG_LEVEL=debug "$env"/bin/demo-process --input /data/in.csv "$@"
elif [ -e demo-process ]; then
  env -u CONDA_PREFIX -u PYTHONHOME PATH="$run_path" VIRTUAL_ENV="$env" DATA_PATH=/data LOG_LEVEL=debug "$env"/bin/python demo-process --input /data/in.csv "$@"
else
  printf '%s\n' 'pylockenv: error: /srv/apps/demo/app.yml: commands.process: command: '"'"'demo-process'"'"' is neither a console script in '"$env"'/bin nor a file for Python to run; check the command'"'"'s first word, and that the package providing it is in the pylock or the local extra deps.' >&2
  exit 127
fi
