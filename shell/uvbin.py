"""Which uv executable to run."""

from __future__ import annotations

import os

UV_ENV_VAR = "PYLOCKENV_UV"


def find_uv() -> str:
    """PYLOCKENV_UV if set, else the uv installed with pylockenv, else uv on PATH.

    Returns the bare name "uv" when none is found, so that a dry run still prints
    a plan; running it then fails with a message that says how to get uv.
    """
    return chosen_uv()[0]


def chosen_uv() -> tuple[str, str]:
    """`find_uv()`'s answer, and how it was found, in words (for `pylockenv --version`)."""
    chosen = os.environ.get(UV_ENV_VAR)
    if chosen:
        return chosen, f"from ${UV_ENV_VAR}"
    bundled = bundled_uv()
    if bundled is not None:
        return bundled, "installed with pylockenv"
    import shutil

    on_path = shutil.which("uv")
    return (on_path, "found on PATH") if on_path else ("uv", "none found")


_BUNDLED: list[str | None] = []  # the lookup's result, once made (functools.cache, unloaded)


def bundled_uv() -> str | None:
    """The uv binary installed with the `uv` package beside pylockenv, or None.

    Looked up once per process: where an installation put its uv does not change
    while it runs, and the lookup (sysconfig's paths, five candidate directories)
    costs about 0.3 ms, which each `plan()` of an app runner would otherwise pay.
    """
    if not _BUNDLED:
        _BUNDLED.append(_look_up_bundled_uv())
    return _BUNDLED[0]


def _look_up_bundled_uv() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return os.fsdecode(find_uv_bin())
    except FileNotFoundError:
        return None


# The first uv whose `uv pip install -r` reads PEP 751 pylock.toml files; 0.6.14 fails
# with "Couldn't parse requirement". Evidence: tests/probe_uv_versions.py.
MIN_UV_VERSION = (0, 6, 15)


def known_uv_version(uv: str, known_dir: str) -> str:
    """`check_uv(uv)`, asked once per uv executable: the answer is kept in `known_dir`
    (the cache's plans/) with the executable's stat, and a kept answer is used while
    that stat is unchanged. A cache that cannot be written only costs the look-up."""
    import shutil
    import zlib

    resolved = uv if "/" in uv else shutil.which(uv)
    try:
        st = os.stat(resolved) if resolved else None
    except OSError:
        st = None
    if st is None:
        return check_uv(uv)
    identity = f"{resolved}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n"
    kept = f"{known_dir}/uv-{zlib.crc32(identity.encode('utf-8', 'surrogateescape')):08x}.version"
    import contextlib  # here, not at the top: the warm path loads this module

    text = ""
    with contextlib.suppress(OSError), open(kept, encoding="utf-8", errors="replace") as stream:
        text = stream.read(4096)
    if text.startswith(identity) and text[len(identity) :].startswith("uv "):
        return text[len(identity) :].strip()
    version = check_uv(uv)
    staging = f"{kept}.{os.getpid()}.tmp"
    try:
        os.makedirs(known_dir, exist_ok=True)
        with open(staging, "x", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(identity + version + "\n")
        os.replace(staging, kept)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(staging)
    return version


def check_uv(uv: str) -> str:
    """Run `uv --version`; return what it printed (`uv 0.13.9 (...)`), or raise UvNotFoundError.

    Called only before provisioning (a warm run never starts uv).
    """
    import subprocess

    from .errors import UvNotFoundError

    how = (
        f"install pylockenv's dependencies (pip install 'uv>={_dotted(MIN_UV_VERSION)}'), "
        f"or point {UV_ENV_VAR} or --uv at a uv executable"
    )
    try:
        result = subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise UvNotFoundError(f"cannot run uv at {uv!r} ({exc.strerror}); {how}.") from None
    except subprocess.TimeoutExpired:
        raise UvNotFoundError(f"'{uv} --version' did not answer within a minute; {how}.") from None
    words = result.stdout.split()
    if result.returncode != 0 or len(words) < 2 or words[0] != "uv":
        raise UvNotFoundError(
            f"{uv!r} is not a working uv: '{uv} --version' exited with {result.returncode} "
            f"and printed {(result.stdout + result.stderr).strip()[:200]!r}; {how}."
        )
    version = _parsed(words[1])
    if version is not None and version < MIN_UV_VERSION:
        raise UvNotFoundError(
            f"uv at {uv!r} is version {words[1]}, but installing from pylock.toml files needs "
            f"uv {_dotted(MIN_UV_VERSION)} or later; {how}."
        )
    return result.stdout.strip()


def _parsed(text: str) -> tuple[int, ...] | None:
    parts = text.split("+")[0].split(".")[:3]
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)
