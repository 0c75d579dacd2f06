"""Identifiers and salted hashes as Arrow strings, built without a Python loop per row.

Millions of ids are formatted by writing their digits straight into one byte
buffer and wrapping it as an Arrow string array, which is both faster and far
lighter than a column of Python ``str`` objects.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _fixed_width_strings(prefix: bytes, body: np.ndarray) -> pa.StringArray:
    """Wrap rows of ASCII bytes (``body``: n x w uint8), each behind ``prefix``, as one string array."""
    count, width = body.shape
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (count, len(prefix)))
    data = np.ascontiguousarray(np.concatenate([head, body], axis=1)).ravel()
    step = len(prefix) + width
    offsets = np.arange(0, (count + 1) * step, step, dtype=np.int32 if (count + 1) * step < 2**31 else np.int64)
    kind = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    array = pa.Array.from_buffers(kind, count, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return array if kind == pa.string() else array.cast(pa.string())


def format_ids(prefix: str, numbers: np.ndarray, *, width: int | None = None) -> pa.StringArray:
    """``format_ids("L", [0, 42]) -> ["L00", "L42"]``: a prefix and zero-padded decimal digits."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if width is None:
        width = max(1, len(str(int(numbers.max(initial=0)))))
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = ((numbers[:, None] // powers) % 10 + ord("0")).astype(np.uint8)
    return _fixed_width_strings(prefix.encode(), digits)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a fast, well-mixed bijection on 64-bit integers."""
    z = np.asarray(values, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def salted_hash(kind_code: int, entity: np.ndarray, salt: int) -> np.ndarray:
    """A salted 64-bit hash of (kind, entity number): the stand-in for a hashed phone, device, ..."""
    key = np.asarray(entity, dtype=np.uint64) ^ (np.uint64(kind_code) << np.uint64(56))
    return splitmix64(key ^ splitmix64(np.array([salt], dtype=np.uint64))[0])


def hex_strings(hashes: np.ndarray) -> pa.StringArray:
    """64-bit hashes as 16-character lowercase hex strings."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    nibbles = ((hashes[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)
    return _fixed_width_strings(b"", _HEX[nibbles])
