"""Named, independent random streams derived from one seed.

Every random draw in the project comes from a :class:`numpy.random.Generator` handed out here
(or passed in explicitly); nothing touches the global ``random`` or ``np.random`` state.
Streams are keyed by name, so adding a new consumer never shifts the numbers another one sees:
the same seed and name give the same sequence whatever else was asked for, in whatever order.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams"]


class Streams:
    """Derive independent generators (``arrivals``, ``durations``, ``failures``, ...) from one seed.

    Parameters
    ----------
    seed : int
        Root seed (>= 0). The same seed gives the same streams on every platform.

    Examples
    --------
    >>> s = Streams(7)
    >>> a = s.get("arrivals").integers(0, 100, 3)
    >>> b = Streams(7).get("arrivals").integers(0, 100, 3)
    >>> bool((a == b).all())
    True
    """

    __slots__ = ("_cache", "seed")

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._cache: dict[str, np.random.Generator] = {}

    def sequence(self, name: str) -> np.random.SeedSequence:
        """The :class:`~numpy.random.SeedSequence` of stream ``name`` (stable across runs)."""
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        key = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
        return np.random.SeedSequence([self.seed, *key])

    def get(self, name: str) -> np.random.Generator:
        """The generator of stream ``name``; repeated calls return the same (advancing) object."""
        gen = self._cache.get(name)
        if gen is None:
            gen = np.random.Generator(np.random.PCG64(self.sequence(name)))
            self._cache[name] = gen
        return gen

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator of stream ``name``, positioned at its start."""
        return np.random.Generator(np.random.PCG64(self.sequence(name)))

    def child(self, name: str) -> Streams:
        """An independent :class:`Streams` family (e.g. one per Monte Carlo replication)."""
        sub = int(self.sequence(name).generate_state(2, np.uint64)[0] >> np.uint64(1))
        return Streams(sub)

    def __repr__(self) -> str:
        return f"Streams(seed={self.seed})"
