"""The env hash equals the reference implementation's formula, checked against hand-built strings.

Formula (design card): sha256 of
"{hostname}:{python_version}:{pylock_abs}:{str(pylock_mtime)}", followed only when
there are local extra deps by ":" + ",".join(extra_abs_paths); the first 16 hex digits.
The reference's own code is asked for its hash in test_reference_compat.
"""

from __future__ import annotations

import hashlib

from pylockenv.core import AppVariables, FileFact, HostFacts, Plan, load_app_spec, load_spec, plan
from pylockenv.core.facts import Interpreter


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _facts(
    files: dict[str, float | None], *, home: str = "/home/alice", hostname: str = "node7"
) -> HostFacts:
    """A host where each path of `files` exists (mtime; None = directory)."""
    return HostFacts(
        hostname=hostname,
        home=home,
        cwd="/work",
        xdg_cache_home="/cache",
        path="/usr/bin:/bin",
        uv="/usr/bin/uv",
        interpreters={
            version: Interpreter(path=f"/usr/bin/python{version}", version=f"{version}.9")
            for version in ("3.11", "3.12", "3.13")
        },
        files={
            path: FileFact(kind="directory", mtime=1.0, size=0)
            if mtime is None
            else FileFact(kind="file", mtime=mtime, size=10)
            for path, mtime in files.items()
        },
    )


def _plan(
    document: dict[str, object],
    files: dict[str, float | None],
    *,
    base_dir: str = "/srv/a",
    home: str = "/home/alice",
    hostname: str = "node7",
) -> Plan:
    """Plan `document` on a host where each path of `files` exists (mtime; None = directory)."""
    facts = _facts(files, home=home, hostname=hostname)
    return plan(load_spec(document, "app.yml", None, base_dir), facts)


def test_hash_without_extras_is_the_digest_of_host_version_path_and_mtime() -> None:
    result = _plan(
        {"pylock": "/srv/a/pylock.toml", "command": "-m app", "python_version": "3.11"},
        {"/srv/a/pylock.toml": 1700000000.5},
    )
    assert result.hash_input == "node7:3.11:/srv/a/pylock.toml:1700000000.5"
    assert result.env_hash == _digest("node7:3.11:/srv/a/pylock.toml:1700000000.5")
    # printf %s "node7:3.11:/srv/a/pylock.toml:1700000000.5" | sha256sum | cut -c1-16
    assert result.env_hash == "8a7d75cae55cb5fc"


def test_hash_with_extras_appends_their_paths_joined_by_commas() -> None:
    result = _plan(
        {
            "pylock": "/srv/a/pylock.toml",
            "command": "-m app",
            "python_version": "3.12",
            "local_extra_deps": ["/srv/a/app-1.0-py3-none-any.whl", "/srv/src/plugin"],
        },
        {
            "/srv/a/pylock.toml": 1700000000.5,
            "/srv/a/app-1.0-py3-none-any.whl": 5.0,
            "/srv/src/plugin": None,
        },
    )
    expected = (
        "node7:3.12:/srv/a/pylock.toml:1700000000.5:/srv/a/app-1.0-py3-none-any.whl,/srv/src/plugin"
    )
    assert result.env_hash == _digest(expected)


def test_a_whole_second_mtime_is_written_as_python_writes_the_float() -> None:
    result = _plan(
        {"pylock": "/srv/a/pylock.toml", "command": "-m app", "python_version": "3.11"},
        {"/srv/a/pylock.toml": 1700000000.0},
    )
    assert result.env_hash == _digest("node7:3.11:/srv/a/pylock.toml:1700000000.0")


def test_a_nanosecond_mtime_keeps_every_digit_of_its_repr() -> None:
    result = _plan(
        {"pylock": "/srv/a/pylock.toml", "command": "-m app", "python_version": "3.11"},
        {"/srv/a/pylock.toml": 1763985600.1234567},
    )
    assert result.env_hash == _digest("node7:3.11:/srv/a/pylock.toml:1763985600.1234567")


def test_dotdot_in_a_path_is_kept_as_written_like_path_absolute() -> None:
    result = _plan(
        {"pylock": "/srv/a/b/../pylock.toml", "command": "-m app", "python_version": "3.11"},
        {"/srv/a/b/../pylock.toml": 1700000000.5},
    )
    assert result.env_hash == _digest("node7:3.11:/srv/a/b/../pylock.toml:1700000000.5")


def test_a_relative_path_is_joined_to_the_spec_files_directory() -> None:
    result = _plan(
        {
            "pylock": "locks/pylock.toml",
            "command": "-m app",
            "python_version": "3.11",
            "local_extra_deps": ["./dist/app-1.0-py3-none-any.whl"],
        },
        {"/srv/a/locks/pylock.toml": 1700000000.5, "/srv/a/dist/app-1.0-py3-none-any.whl": 5.0},
    )
    assert result.env_hash == _digest(
        "node7:3.11:/srv/a/locks/pylock.toml:1700000000.5:/srv/a/dist/app-1.0-py3-none-any.whl"
    )


def test_a_tilde_path_is_expanded_with_the_home_directory() -> None:
    result = _plan(
        {
            "pylock": "~/locks/pylock.toml",
            "command": "-m app",
            "python_version": "3.11",
            "local_extra_deps": ["~/app-1.0-py3-none-any.whl"],
        },
        {
            "/home/alice/locks/pylock.toml": 1700000000.5,
            "/home/alice/app-1.0-py3-none-any.whl": 5.0,
        },
    )
    assert result.env_hash == _digest(
        "node7:3.11:/home/alice/locks/pylock.toml:1700000000.5:/home/alice/app-1.0-py3-none-any.whl"
    )


def test_without_python_version_the_references_default_3_13_is_hashed() -> None:
    result = _plan(
        {"pylock": "/srv/a/pylock.toml", "command": "-m app"},
        {"/srv/a/pylock.toml": 1700000000.5},
    )
    assert result.env_hash == _digest("node7:3.13:/srv/a/pylock.toml:1700000000.5")


def test_the_hostname_is_part_of_the_hash() -> None:
    document: dict[str, object] = {"pylock": "/srv/a/pylock.toml", "command": "-m app"}
    files: dict[str, float | None] = {"/srv/a/pylock.toml": 1700000000.5}
    assert (
        _plan(document, files, hostname="node7").env_hash
        != _plan(document, files, hostname="node8").env_hash
    )


def test_an_app_yml_command_hashes_as_the_same_command_written_out() -> None:
    """Substituted and joined to the app.yml's directory, an app.yml's paths hash as the
    paths they name: the hash has no notion of templates."""
    files = {"/srv/a/v2.0/pylock.toml": 1.25, "/srv/a/dist/app-2.0.whl": 2.5, "/home/alice/p": None}
    written_out = _plan(
        {
            "pylock": "/srv/a/v2.0/pylock.toml",
            "command": "-m app",
            "python_version": "3.11",
            "local_extra_deps": ["/srv/a/dist/app-2.0.whl", "~/p"],
        },
        files,
    )
    command = {
        "type": "python_env",
        "pylock": "v${app.version}/pylock.toml",
        "command": "-m app",
        "python_version": "3.11",
        "local_extra_deps": ["dist/app-${app.version}.whl", "~/p"],
    }
    document = {
        "bfabric": {"app_runner": "0.9.1"},
        "versions": [
            {
                "version": "2.0",
                "commands": {"dispatch": {"type": "exec", "command": "x"}, "process": command},
            }
        ],
    }
    spec = load_app_spec(document, "app.yml", "process", app_dir="/srv/a", variables=AppVariables())
    from_app = plan(spec, _facts(files))
    assert (
        from_app.hash_input
        == written_out.hash_input
        == ("node7:3.11:/srv/a/v2.0/pylock.toml:1.25:/srv/a/dist/app-2.0.whl,/home/alice/p")
    )
    assert from_app.env_path == written_out.env_path
