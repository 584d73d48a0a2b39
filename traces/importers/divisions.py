"""Mapping source VCs / users / organisations / clusters onto the scenario's divisions.

Default: a stable hash (BLAKE2b of the key) into the divisions, so a key always lands in the same
division. A division-map file overrides it per key. Accepted forms:

- CSV with a header ``key,division`` (one row per source key; key ``*`` = default for the rest);
- JSON object ``{"key": "division", ..., "*": "division"}``;
- TOML table of the same shape.

Keys not in the map (and no ``*``) fall back to the hash. Every division named must be one of
the scenario's, else :class:`~traces.errors.TraceError` names the file and the key.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from traces.errors import TraceError

__all__ = ["DivisionMap", "hash_division", "load_division_map"]


def hash_division(key: str, divisions: Sequence[str]) -> str:
    """The division a key hashes to (stable across runs and machines)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return divisions[int.from_bytes(digest, "big") % len(divisions)]


@dataclass(frozen=True, kw_only=True, slots=True)
class DivisionMap:
    """Explicit key -> division entries, a hash fallback over ``divisions``."""

    divisions: tuple[str, ...]
    """The scenario's division names."""
    explicit: Mapping[str, str] = field(default_factory=dict)
    """Key -> division; key ``*`` is the default for keys not listed."""

    def __post_init__(self) -> None:
        if not self.divisions:
            raise ValueError("at least one division is needed")

    def division_of(self, key: str | None) -> str:
        """Division for one source key (``None``: the empty key)."""
        key = "" if key is None else key
        if key in self.explicit:
            return self.explicit[key]
        if "*" in self.explicit:
            return self.explicit["*"]
        return hash_division(key, self.divisions)

    def map(self, keys: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Vectorised: division per key (keys are dictionary-encoded, each distinct key hashed once)."""
        arr = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
        enc = arr.cast(pa.string()).dictionary_encode()
        names = pa.array([self.division_of(v) for v in enc.dictionary.to_pylist()], pa.string())
        idx = enc.indices.fill_null(len(names))
        names = pa.concat_arrays([names, pa.array([self.division_of(None)], pa.string())])
        return names.take(idx)


def load_division_map(path: str | Path, divisions: Sequence[str]) -> DivisionMap:
    """Read a division-map file (CSV, JSON or TOML by extension); checks every division name."""
    p = Path(path)
    if not p.is_file():
        raise TraceError(f"{p}: no such file")
    entries: dict[str, str] = {}
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TraceError(f"{p}: expected a JSON object of key -> division")
            entries = {str(k): v for k, v in data.items()}
        elif p.suffix.lower() == ".toml":
            entries = {str(k): v for k, v in tomllib.loads(p.read_text(encoding="utf-8")).items()}
        else:
            with p.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or not {"key", "division"} <= set(reader.fieldnames):
                    raise TraceError(f"{p}: expected a CSV header 'key,division'")
                for line, row in enumerate(reader, start=2):
                    if row["key"] is None or row["division"] is None:
                        raise TraceError(f"{p}: line {line}: expected two columns key,division")
                    entries[row["key"]] = row["division"].strip()
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot parse ({' '.join(str(exc).split())})") from None
    for key, value in entries.items():
        if not isinstance(value, str) or value not in divisions:
            raise TraceError(
                f"{p}: key {key!r}: unknown division {value!r} (expected one of {', '.join(divisions)})"
            )
    return DivisionMap(divisions=tuple(divisions), explicit=entries)
