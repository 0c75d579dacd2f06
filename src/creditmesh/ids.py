"""Identifiers and salted hashes as Arrow strings, built without a Python loop per row.

A core module: the simulator names its borrowers, loans and hashed identifiers with it, and the
ledger its payments in a bulk file.

Millions of ids are formatted by writing their characters straight into one
preallocated byte buffer and wrapping it as an Arrow string array: far faster
and lighter than a column of Python ``str`` objects, and with no temporary
larger than the result itself.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Two hex characters for every byte value.
_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint8).reshape(256, 2)


def _wrap_fixed_width(data: np.ndarray, count: int, step: int) -> pa.StringArray:
    """Wrap ``count`` strings of ``step`` ASCII bytes each, laid end to end in ``data``."""
    wide = (count + 1) * step >= 2**31
    offsets = np.arange(0, (count + 1) * step, step, dtype=np.int64 if wide else np.int32)
    kind = pa.large_string() if wide else pa.string()
    array = pa.Array.from_buffers(
        kind, count, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    )
    return array.cast(pa.string()) if wide else array


def format_ids(prefix: str, numbers: np.ndarray, *, width: int | None = None) -> pa.StringArray:
    """``format_ids("L", [0, 42]) -> ["L00", "L42"]``: a prefix and zero-padded decimal digits."""
    numbers = np.asarray(numbers, dtype=np.int64)
    largest = int(numbers.max(initial=0))
    if width is None:
        width = max(1, len(str(largest)))
    head = prefix.encode()
    step = len(head) + width
    out = np.empty((numbers.size, step), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = numbers.astype(np.uint32) if largest < 2**32 else numbers.copy()
    for column in range(step - 1, len(head) - 1, -1):  # one pass per digit, not per row
        out[:, column] = rest % 10 + ord("0")
        rest //= 10
    return _wrap_fixed_width(out.reshape(-1), numbers.size, step)


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
    """64-bit hashes as 16-character lowercase hex strings (big-endian, so they read as the number)."""
    as_bytes = np.asarray(hashes, dtype=np.uint64).astype(">u8").view(np.uint8)
    return _wrap_fixed_width(_HEX_PAIRS[as_bytes].reshape(-1), as_bytes.size // 8, 16)
