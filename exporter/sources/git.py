"""Manifests as they are at a git revision of the repository around a directory, read
with git plumbing (`rev-parse`, `ls-tree`, `cat-file --batch`): no checkout, the work
tree and index are never touched, so `netfence diff --base origin/main` is safe in any
CI job or working copy.

git runs as a child process with an argument list (never a shell), the revision is
checked against a conservative pattern before git sees it, and `--end-of-options`
stops git from reading it as an option.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Branch and tag names, hashes, `HEAD~1`, `origin/main`, `main@{1}`, `v1.2^`: no spaces,
# no `:` (rev:path names a blob, not a tree), no leading `-`, no `..` (ranges).
_REVISION = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9._/@{}~^+-]*")
GIT_TIMEOUT_SECONDS = 300.0


class GitError(RuntimeError):
    """The revision or repository cannot be read (exit code 2)."""


@dataclass(frozen=True, slots=True)
class GitFile:
    path: str
    """Relative to the repository root, with `/`."""
    blob: str
    size: int


def valid_revision(text: str) -> bool:
    return bool(_REVISION.fullmatch(text)) and ".." not in text and not text.endswith(".lock")


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(  # noqa: S603 - argument list, validated revision, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as a user runs it
            cwd=cwd,
            input=stdin,
            capture_output=True,
            check=False,
            env=env,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (needed to read a git revision)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took over {GIT_TIMEOUT_SECONDS:g} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout


def repository_root(cwd: Path) -> Path:
    out = _git(["rev-parse", "--show-toplevel"], cwd)
    return Path(out.decode().strip())


def resolve(revision: str, cwd: Path) -> str:
    """The commit hash a revision names; GitError when it names none."""
    if not valid_revision(revision):
        raise GitError(f"{revision!r} is not a git revision netfence accepts")
    try:
        out = _git(["rev-parse", "--verify", "--end-of-options", f"{revision}^{{commit}}"], cwd)
    except GitError:
        raise GitError(
            f"{revision!r} is neither a path nor a commit of the git repository"
        ) from None
    return out.decode().strip()


def list_files(commit: str, subdir: str, cwd: Path, suffixes: tuple[str, ...]) -> list[GitFile]:
    """Files under `subdir` (relative to the repository root) at `commit`, with these
    suffixes, skipping hidden directories as the manifest loader does."""
    args = ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]
    if subdir not in ("", "."):
        args += ["--", subdir.rstrip("/")]
    out = _git(args, cwd)
    files: list[GitFile] = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        _mode, kind, blob, size = meta.split()
        path = raw_path.decode("utf-8", "surrogateescape")
        parts = PurePosixPath(path).parts
        if kind != b"blob" or not path.endswith(suffixes):
            continue
        if any(p.startswith(".") for p in parts[:-1]):
            continue
        files.append(GitFile(path, blob.decode(), int(size)))
    files.sort(key=lambda f: f.path)
    return files


def read_blobs(files: list[GitFile], cwd: Path) -> list[bytes]:
    """The contents of `files`, in order, from one `git cat-file --batch`."""
    if not files:
        return []
    out = _git(["cat-file", "--batch"], cwd, stdin="".join(f"{f.blob}\n" for f in files).encode())
    contents: list[bytes] = []
    pos = 0
    for f in files:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise GitError(f"git cat-file: unexpected answer for {f.path}")
        size = int(header[2])
        start = header_end + 1
        contents.append(out[start : start + size])
        pos = start + size + 1
    return contents
