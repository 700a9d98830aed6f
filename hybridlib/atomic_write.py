"""Files that are either the old version or the new one, never half of either.

Every result a run leaves (checkpoints, tables, findings, provenance, cached evaluations) is
written to a temporary file of its own beside it (``.<name>.<pid>-<random>.tmp``: two processes never
share one), flushed to disk, and renamed over the old file.
A full disk, a killed process or a power cut leaves the previous file as it was; the error says
which file and what to do.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMPORARY_PATTERN = ".*.*-*.tmp"  # the temporary files' names, as a glob pattern


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], what: str = "file") -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``.

    Any failure removes the temporary file and leaves an existing ``path`` untouched; a failure to
    write (e.g. no space left, which torch reports as a RuntimeError) raises an OSError naming
    ``path``, anything else is raised as it is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the rename makes it the file
    except (OSError, RuntimeError) as error:
        temporary.unlink(missing_ok=True)
        previous = f"the previous {what} is intact" if path.is_file() else f"no earlier {what} existed"
        raise OSError(
            f"could not write {what} {path} ({error}); {previous}. Free disk space (or choose another folder) and "
            "run again: finished work is reused"
        ) from error
    except BaseException:  # anything else (a bug in ``write``, a second Ctrl-C): no temporary file left behind
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return path


def atomic_write_text(path: str | Path, text: str, what: str = "file") -> Path:
    """:func:`atomic_write` for UTF-8 text."""
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), what)
