"""Whether a command can write a file, asked before its run rather than after.

`--report`, and `--db` when it names a SQLite file, are checked so, and a
path that cannot be written is bad usage (exit code 2) that names it,
instead of a run that fails at its end, or at its start with a message
that names neither the path nor the reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def write_problem(path: str, *, new_files: bool = False) -> str | None:
    """Why `path` cannot be written, as words to follow it; None if it can.

    The answer is found by trying, so that permissions, read-only file
    systems, /proc and the like answer as the real write would (and root
    is let through wherever it may write): a new file is created, then
    removed; an existing one is opened to append nothing.

    Args:
        path: The file to write.
        new_files: The directory must take new files even when `path`
            exists: SQLite writes its `-wal` and `-shm` files beside the
            database. Tried with a temporary file, removed at once.
    """
    target = Path(path)
    if target.is_dir():
        return "is a directory; give a file name"
    if not target.parent.is_dir():
        return f"cannot be written: there is no directory {target.parent}"
    existed = target.exists()
    try:
        _try_writing(target)
        if new_files and existed:
            with tempfile.TemporaryFile(dir=target.parent):
                pass
    except OSError as error:
        return f"cannot be written: {error.strerror or type(error).__name__}"
    return None


def _try_writing(target: Path) -> None:
    """Open `target` for writing without changing it: raise if it cannot be."""
    if target.exists():
        with target.open("ab"):
            return
    with target.open("xb"):
        pass
    target.unlink()
