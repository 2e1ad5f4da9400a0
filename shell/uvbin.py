"""Which uv executable to run."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from pylockenv.core.layout import CacheLayout

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


# The minimum version and the refusals are the core's (`core.provisioning`).
UV_VERSION_LIMIT = 4096  # a kept answer is one line; anything larger is not one of ours


def known_uv_version(uv: str, cache: CacheLayout) -> str:
    """`check_uv(uv)`, asked once per uv executable: the answer is kept in the cache's
    plans/ (under the layout's name for it) with the executable's stat, and a kept
    answer is used while that stat is unchanged. The kept file is read bounded and
    never blocks (a FIFO there is no answer); a cache that cannot be written, or a
    link where plans/ belongs, only costs the look-up."""
    import zlib

    from pylockenv.core.layout import PLANS_DIR, kept_uv_version_name, staging_name

    from .cachefiles import CacheFileError, open_cache_dir, read_regular, write_atomically

    if "/" in uv:
        resolved: str | None = uv
    else:
        import shutil  # only for a name to look up on PATH (it loads bz2, lzma, fnmatch)

        resolved = shutil.which(uv)
    try:
        st = os.stat(resolved) if resolved else None
    except OSError:
        st = None
    if st is None:
        return check_uv(uv)
    identity = f"{resolved}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\n"
    crc = zlib.crc32(identity.encode("utf-8", "surrogateescape"))
    name, path = kept_uv_version_name(crc), cache.kept_uv_version(crc)
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR)
        try:
            data = read_regular(path, UV_VERSION_LIMIT, dir_fd=plans) or b""
        finally:
            os.close(plans)
    except (OSError, CacheFileError):
        data = b""  # none kept yet, or none that can be read: ask uv
    text = data.decode("utf-8", errors="replace")
    if text.startswith(identity) and text[len(identity) :].startswith("uv "):
        return text[len(identity) :].strip()
    version = check_uv(uv)  # made nothing if it refuses
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR, create=True)
        try:
            write_atomically(
                plans,
                name,
                (identity + version + "\n").encode("utf-8", "surrogateescape"),
                staging=staging_name(name, os.getpid()),
                path=path,
                fsync=False,  # a lost answer only costs the next run one look-up
            )
        finally:
            os.close(plans)
    except (OSError, CacheFileError):
        pass  # a cache that cannot be written, or a link at plans/: no answer kept
    return version


def check_uv(uv: str) -> str:
    """Run `uv --version`; return what it printed (`uv 0.13.9 (...)`), or raise UvNotFoundError.

    Called before provisioning, and when uv found no interpreter (to say a broken uv as
    such); a warm run never starts uv.
    """
    import subprocess

    from pylockenv.core.provisioning import MIN_UV_VERSION, dotted, uv_refusal

    from .errors import UvNotFoundError

    how = (
        f"install pylockenv's dependencies (pip install 'uv>={dotted(MIN_UV_VERSION)}'), "
        f"or point {UV_ENV_VAR} or --uv at a uv executable"
    )
    try:
        result = subprocess.run(
            [uv, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            errors="replace",
        )
    except OSError as exc:
        raise UvNotFoundError(f"cannot run uv at {uv!r} ({exc.strerror}); {how}.") from None
    except subprocess.TimeoutExpired:
        raise UvNotFoundError(f"'{uv} --version' did not answer within a minute; {how}.") from None
    refusal = uv_refusal(
        uv, returncode=result.returncode, stdout=result.stdout, stderr=result.stderr, how=how
    )
    if refusal is not None:
        raise UvNotFoundError(refusal)
    return result.stdout.strip()
