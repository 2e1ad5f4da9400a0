"""A cache a lab shares, used as its members (and a careless or hostile one) would.

Several users, one cache: real Unix users made with groupadd/useradd (so these tests
run as root, and skip saying so elsewhere), a setgid group directory, umask 002, each
user's pylockenv started with setpriv. Nothing outside the cache: real links where the
cache's directories belong, a FIFO where a cache file belongs, and a co-tenant who
swaps an env's directory for a link while uv runs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import frozen
from builders import make_app
from harness import REAL_UV, CacheDir, run_pylockenv

from pylockenv.core.layout import PLANS_DIR

EXIT_PYLOCKENV_FAILED = 125
# The users' pylockenv runs on Debian's Python: pyenv's lives under /root (mode 0700),
# which another user cannot enter. It loads pylockenv and its dependencies from the
# test virtualenv's site-packages (readable by all), editable install included.
SYSTEM_PYTHON = "/usr/bin/python3.11"
# The lab's users see no pyenv (it is root's): their envs are made from the system Python.
SYSTEM_SPEC = 'python_version: "3.11"\n'
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
BOOT = (
    "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'pylockenv'; "
    "runpy.run_module('pylockenv.shell', run_name='__main__', alter_sys=True)"
)


def _why_no_users() -> str | None:
    if os.geteuid() != 0:
        return "needs root, to add the users and the group of a shared cache"
    for tool in ("useradd", "groupadd", "userdel", "groupdel", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON}, a Python every user can run, is missing"
    return None


@frozen
class User:
    name: str
    uid: int
    gid: int  # the user's own group; a member's is not the lab's
    home: Path


@frozen
class Lab:
    """A group, two of its members and an outsider, and a shared directory of theirs."""

    group: str
    gid: int
    alice: User
    bob: User
    outsider: User
    shared: Path

    @property
    def cache(self) -> CacheDir:
        return CacheDir(self.shared / "xdg")

    def run(
        self, user: User, *args: str, timeout: float = 120, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`pylockenv ARGS` as `user`, with umask 002 and the lab's cache, in `cwd` (the
        user's home by default)."""
        environ = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(user.home),
            "LANG": "C.UTF-8",
            "XDG_CACHE_HOME": str(self.cache.xdg),
            "UV_CACHE_DIR": str(user.home / "uv-cache"),
            "UV_OFFLINE": "1",
            "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "PYLOCKENV_UV": REAL_UV,
        }
        return subprocess.run(
            [
                "setpriv",
                f"--reuid={user.uid}",
                f"--regid={user.gid}",
                "--init-groups",
                "--",
                SYSTEM_PYTHON,
                "-c",
                BOOT,
                SITE_PACKAGES,
                *args,
            ],
            env=environ,
            cwd=user.home if cwd is None else cwd,
            umask=0o002,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _add_user(name: str, group: str | None) -> User:
    command = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    if group is not None:
        command += ["--groups", group]
    subprocess.run([*command, name], check=True, capture_output=True)
    uid, gid = (
        int(subprocess.run(["id", flag, name], check=True, capture_output=True).stdout)
        for flag in ("-u", "-g")
    )
    return User(name=name, uid=uid, gid=gid, home=Path("/nonexistent"))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = _why_no_users()
    if reason is not None:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    group = f"plklab{tag}"
    names = [f"plka{tag}", f"plkb{tag}", f"plkc{tag}"]
    shared = Path(tempfile.mkdtemp(prefix="pylockenv-lab-", dir="/tmp"))
    made: list[str] = []
    subprocess.run(["groupadd", group], check=True, capture_output=True)
    try:
        alice, bob = (_add_user(name, group) for name in names[:2])
        made += names[:2]
        outsider = _add_user(names[2], None)
        made.append(names[2])
        gid = int(
            subprocess.run(
                ["getent", "group", group], check=True, capture_output=True, text=True
            ).stdout.split(":")[2]
        )
        shared.chmod(0o755)
        users = []
        for user in (alice, bob, outsider):
            home = shared / f"home-{user.name}"
            home.mkdir()
            os.chown(home, user.uid, -1)
            users.append(User(name=user.name, uid=user.uid, gid=user.gid, home=home))
        # The lab's cache home: the group's, setgid, as `chgrp lab; chmod 2775` makes it.
        xdg = shared / "xdg"
        xdg.mkdir()
        os.chown(xdg, 0, gid)
        xdg.chmod(0o2775)
        yield Lab(
            group=group, gid=gid, alice=users[0], bob=users[1], outsider=users[2], shared=shared
        )
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)  # its own group
        subprocess.run(["groupdel", group], check=False, capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def lab_app(lab: Lab) -> Iterator[Path]:
    """The probe app (readable by everyone) in a directory of its own; the lab's cache is
    emptied afterwards."""
    root = Path(tempfile.mkdtemp(dir=lab.shared, prefix="app-"))
    root.chmod(0o755)
    spec = make_app(root, command="probe exit 0", extra_spec=SYSTEM_SPEC)
    yield spec
    for entry in lab.cache.xdg.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_every_file_a_run_creates_follows_the_umask_and_the_setgid_group(
    lab: Lab, lab_app: Path
) -> None:
    done = lab.run(lab.alice, "run", str(lab_app))
    assert done.returncode == 0, done.stderr
    root = lab.cache.root
    [env] = lab.cache.env_dirs()
    for path, mode in (
        (root, 0o2775),
        (root / "envs", 0o2775),
        (root / PLANS_DIR, 0o2775),
        (env, 0o2775),
        (root / "envs" / f"{env.name}.lock", 0o664),
        (env / ".provisioned", 0o664),
        (env / ".in-use", 0o664),
    ):
        assert (_mode(path), path.lstat().st_gid) == (mode, lab.gid), path
    kept = list((root / PLANS_DIR).iterdir())
    assert kept
    assert {(_mode(p), p.stat().st_gid) for p in kept} == {(0o664, lab.gid)}


def test_a_second_member_reuses_locks_records_use_of_and_gcs_the_first_ones_env(
    lab: Lab, lab_app: Path
) -> None:
    assert lab.run(lab.alice, "provision", str(lab_app)).returncode == 0
    [env] = lab.cache.env_dirs()
    in_use = env / ".in-use"
    if in_use.exists():
        os.utime(in_use, (1, 1))
    reused = lab.run(lab.bob, "run", str(lab_app))
    assert reused.returncode == 0, reused.stderr
    assert f"reusing {env}" in reused.stderr
    assert "provisioning" not in reused.stderr
    assert in_use.stat().st_mtime > 1  # bob's run recorded its use
    dry = lab.run(lab.bob, "gc", "--dry-run", "--older-than", "0s")
    assert (dry.returncode, dry.stderr) == (0, "")
    assert f"would remove {env.name}" in dry.stdout
    gone = lab.run(lab.bob, "gc", "--older-than", "0s")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not env.exists()


def test_two_members_running_one_spec_in_turn_each_keep_their_warm_path(
    lab: Lab, lab_app: Path
) -> None:
    # Both in one working directory (the lab's), the same command line.
    plans = lab.cache.root / PLANS_DIR

    def kept() -> dict[str, int]:
        """Each kept plan's inode: the full path writes a new file each time it keeps
        one (staging name, then rename), the warm path only reads it."""
        return {p.name: p.stat().st_ino for p in plans.iterdir() if p.name.endswith(".plan")}

    assert lab.run(lab.alice, "run", str(lab_app), cwd=lab.shared).returncode == 0
    after_alice = kept()
    assert lab.run(lab.bob, "run", str(lab_app), cwd=lab.shared).returncode == 0
    after_bob = kept()
    assert len(after_bob) == 2  # one per user
    assert after_alice.items() <= after_bob.items()  # bob's run left alice's alone
    for user in (lab.alice, lab.bob):
        again = lab.run(user, "run", str(lab_app), cwd=lab.shared)
        assert again.returncode == 0, again.stderr
    assert kept() == after_bob  # both runs took the warm path: neither plan was rewritten


def test_an_outsider_gets_a_sentence_naming_the_path_and_the_permission(
    lab: Lab, lab_app: Path
) -> None:
    assert lab.run(lab.alice, "provision", str(lab_app)).returncode == 0
    [env] = lab.cache.env_dirs()
    reused = lab.run(lab.outsider, "run", str(lab_app))  # reading is all a reuse needs
    assert reused.returncode == 0, reused.stderr
    assert f"reusing {env}" in reused.stderr
    removal = lab.run(lab.outsider, "gc", "--older-than", "0s")
    assert removal.returncode == 1
    assert "permission denied; this user (uid" in removal.stdout
    assert "needs write permission on " in removal.stdout
    assert "[Errno" not in removal.stdout + removal.stderr
    assert env.is_dir()
    other = Path(tempfile.mkdtemp(dir=lab.shared, prefix="app-"))
    other.chmod(0o755)
    outsiders = make_app(other, command="probe exit 0", extra_spec=SYSTEM_SPEC)
    cold = lab.run(lab.outsider, "provision", str(outsiders))
    assert cold.returncode == EXIT_PYLOCKENV_FAILED
    assert cold.stderr.startswith("pylockenv: error: ")
    assert "permission denied; this user (uid" in cold.stderr
    assert "[Errno" not in cold.stderr
    assert "Traceback" not in cold.stderr


# Nothing outside the cache (as root: links and FIFOs need no second user).


def _victim(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A directory of someone's work, with what a link to it would expose to gc."""
    victim = tmp_path / "thesis"
    (victim / "0123456789abcdef").mkdir(parents=True)  # named like an env, no marker
    (victim / "0123456789abcdef" / "chapter1.tex").write_text("work")
    (victim / "notes.plan").write_text("not a plan")
    (victim / "env_0123456789abcdef").mkdir()
    return victim, sorted(victim.rglob("*"))


@pytest.mark.parametrize("directory", ["envs", "ephemeral", "plans"])
def test_a_link_where_a_cache_directory_belongs_is_refused_and_left_by_gc(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, directory: str
) -> None:
    victim, before = _victim(tmp_path)
    cache.root.mkdir(parents=True)
    (cache.root / directory).symlink_to(victim)
    spec = make_app(tmp_path / "app", refresh=directory == "ephemeral")
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == EXIT_PYLOCKENV_FAILED, done.stderr
    assert (
        f"{cache.root}/{directory} is a symbolic link, where the cache's {directory} directory "
        "belongs"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    gc = run_pylockenv(environ, "gc", "--older-than", "0s")
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert sorted(victim.rglob("*")) == before
    assert (cache.root / directory).is_symlink()
    if directory != "plans":
        assert f"{cache.root}/{directory} is a symbolic link" in gc.stderr


def test_a_kept_plan_is_never_read_or_written_through_a_link_at_plans(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    (cache.root / PLANS_DIR).rename(elsewhere)
    (cache.root / PLANS_DIR).symlink_to(elsewhere)
    before = {p.name: p.stat().st_mtime_ns for p in elsewhere.iterdir()}
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == EXIT_PYLOCKENV_FAILED, done.stderr
    assert f"{cache.root}/{PLANS_DIR} is a symbolic link" in done.stderr
    assert "reusing" not in done.stderr  # the warm path did not take the kept plan either
    assert {p.name: p.stat().st_mtime_ns for p in elsewhere.iterdir()} == before


def test_gc_removes_only_the_names_the_layout_gives_it_in_plans(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    plans = cache.root / PLANS_DIR
    [kept_uv] = plans.glob("uv-*.version")
    [kept_interpreter] = plans.glob("python-*.interpreter")
    [kept_plan] = plans.glob("*.plan")
    [plan_lock] = plans.glob("*.plan.lock")
    (plans / "README.txt").write_text("a user's note")
    (plans / "stale0000000000.plan").write_bytes(b"damaged")  # no env: forgotten
    gc = run_pylockenv(environ, "gc", "--older-than", "1d")
    assert gc.returncode == 0, gc.stderr
    # the env was used now, so it stays, and so do its plan and the answers kept today
    assert sorted(p.name for p in plans.iterdir()) == sorted(
        [kept_uv.name, kept_interpreter.name, kept_plan.name, "README.txt", plan_lock.name]
    )
    gc = run_pylockenv(environ, "gc", "--older-than", "0s")
    assert gc.returncode == 0, gc.stderr
    # the kept plan's env went too, so it is forgotten, and the answers are older than 0s;
    # the plan's lock stays, as an env's does (a run may be waiting on it)
    assert sorted(p.name for p in plans.iterdir()) == sorted(["README.txt", plan_lock.name])


def test_a_fifo_at_the_kept_uv_version_does_not_hang_a_cold_provisioning(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    first = make_app(tmp_path / "one")
    assert run_pylockenv(environ, "provision", str(first)).returncode == 0
    [kept] = (cache.root / PLANS_DIR).glob("uv-*.version")
    kept.unlink()
    os.mkfifo(kept)
    second = make_app(tmp_path / "two")
    done = run_pylockenv(environ, "provision", str(second), timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISREG(kept.lstat().st_mode)  # the answer kept anew, in its place
    assert len(cache.env_dirs()) == 2


SWAPPING_UV = """#!/bin/sh
# A co-tenant's move: as `uv venv` starts, the env's directory becomes a link to a victim.
case "$1" in venv)
  for env_path; do :; done
  printf '%s\\n' "${{UV_VENV_CLEAR-unset}}" > "{log}"
  rmdir "$env_path" && ln -s "{victim}" "$env_path";;
esac
exec "{uv}" "$@"
"""


def test_a_link_swapped_in_while_uv_venv_starts_never_costs_its_target_a_file(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    victim, before = _victim(tmp_path)
    log = tmp_path / "uv-venv-clear"
    wrapper = tmp_path / "uv-swapping"
    wrapper.write_text(SWAPPING_UV.format(log=log, victim=victim, uv=REAL_UV))
    wrapper.chmod(0o755)
    environ.update(PYLOCKENV_UV=str(wrapper), UV_VENV_CLEAR="1")
    spec = make_app(tmp_path / "app", extra_spec="env:\n  UV_VENV_CLEAR: '1'\n")
    done = run_pylockenv(environ, "provision", str(spec))
    assert log.read_text() == "unset\n"  # neither the caller's nor the spec's reached uv
    assert done.returncode == EXIT_PYLOCKENV_FAILED, done.stderr
    assert [p for p in before if not p.exists()] == []
    assert not any(p.is_symlink() for p in (cache.root / "envs").iterdir())
    assert "Traceback" not in done.stderr
