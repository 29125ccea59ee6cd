"""Vectorised building blocks: counter-based random numbers and exact Arrow decimals.

Random values are a hash of ``(seed, key...)`` (SplitMix64), not a draw from a stateful
generator, so the same row gets the same value however the rows are chunked into batches, and
cost rows and usage rows that describe the same thing agree.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from costcouncil.schema.arrow import DECIMAL, TIMESTAMP

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Money is computed in integer units of 1e-10 USD (FOCUS allows at most 10 decimal places).
MONEY_EXP = 10
#: Quantities are computed in integer micro-units.
QTY_EXP = 6

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, *keys: ArrayLike) -> F64:
    """Uniform [0, 1) values, one per element of the broadcast ``keys``, fixed by ``seed``."""
    with np.errstate(over="ignore"):
        x = _mix(np.asarray([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) * _GOLDEN)
        for key in keys:
            x = _mix(x ^ (np.asarray(key).astype(np.uint64) * _GOLDEN))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def noise(seed: int, sigma: float, *keys: ArrayLike) -> F64:
    """Log-normal-ish multiplicative noise around 1 (sum of three uniforms, centred)."""
    total = sum(uniform(seed + i, *keys) for i in range(3))
    return np.exp(sigma * 2.0 * (np.asarray(total) - 1.5))


def decimals(units: ArrayLike, exp: int) -> pa.Array:
    """``units * 10**-exp`` as the lake's decimal128(38, 12), built from raw 128-bit words."""
    raw = np.asarray(units, dtype=np.int64) * np.int64(10 ** (12 - exp))
    words = np.empty((raw.size, 2), dtype=np.int64)
    words[:, 0] = raw
    words[:, 1] = raw >> 63
    return pa.Array.from_buffers(DECIMAL, raw.size, [None, pa.py_buffer(words)])


def timestamps(us: ArrayLike) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=pa.int64()).cast(TIMESTAMP)


def money_units(amount: str) -> int:
    """A decimal string in dollars as integer 1e-10 units, exactly."""
    return int(Decimal(amount).scaleb(MONEY_EXP))


def segments(starts: I64, counts: I64) -> tuple[I64, I64]:
    """For runs ``[start, start + count)``: (run index, value) of every element, vectorised."""
    run = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    return run, starts[run] + np.arange(run.size, dtype=np.int64) - offsets[run]
