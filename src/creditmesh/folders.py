"""Folders written all or nothing: a file's content hash, and swapping a finished staging folder into place.

Shared by every box that saves a folder (the simulator's dataset, the relationship graph),
so that a crash or a failed write leaves either the old folder or the new one, never a mix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_folder(target: Path) -> Path:
    """A fresh hidden folder beside ``target`` to write into before :func:`swap_in`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def swap_in(staging: Path, target: Path) -> None:
    """Put the finished ``staging`` folder in ``target``'s place by renames; the old folder is removed after."""
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, retired / target.name)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


@contextmanager
def replaced_atomically(target: Path) -> Iterator[Path]:
    """``with replaced_atomically(target) as staging:`` write into ``staging``; on success it takes ``target``'s
    place, on any error it is removed and ``target`` stays as it was."""
    staging = staging_folder(target)
    try:
        yield staging
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
