"""The snippet index: where each line of snippets.jsonl starts, and which line holds an id.

Snippet *k* is read by seeking to its byte offset, never by loading the file. Ids are found
through a table of 64-bit id hashes sorted with the position of each, so a lookup is one
binary search and (almost always) one id comparison. The arrays are saved under .curate/ as
.npy files and memory-mapped on opening; they are trusted only for the exact snippets.jsonl
they were made from (its signature is saved last, beside them).
"""

from __future__ import annotations

import io
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from curate.store.errors import StoreError
from curate.store.files import atomic_write_bytes, remove_stale_temps
from curate.store.layout import SNIPPET_INDEX_ARRAYS, CorpusLayout

_INDEX_VERSION = 3


def id_hash(snippet_id: str) -> int:
    """A stable 64-bit hash of a snippet id (the snippet index is sorted by it).

    Two cheap checksums rather than a cryptographic hash: ingest hashes every id, and a
    collision costs only one more id comparison in :meth:`Corpus.position`.
    """
    data = snippet_id.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


class SnippetIndex:
    """Byte offsets of every line of snippets.jsonl and a hash table from id to position."""

    def __init__(self, offsets: np.ndarray, hashes: np.ndarray, positions: np.ndarray, characters: int | None = None) -> None:
        self.offsets = offsets
        self.hashes = hashes
        self.positions = positions
        self.characters = characters

    @classmethod
    def build(cls, snippets_path: Path) -> "SnippetIndex":
        """Index an existing snippets.jsonl (one pass; used when the saved index is stale)."""
        offsets = [0]
        hashes = []
        characters = 0
        with snippets_path.open("rb") as handle:
            position = 0
            for line_number, line in enumerate(handle, start=1):
                position += len(line)
                if not line.strip():
                    raise StoreError(f"{snippets_path}:{line_number}: blank line in snippets file")
                offsets.append(position)
                snippet_id, text = _snippet_fields_of_line(line, snippets_path, line_number)
                hashes.append(id_hash(snippet_id))
                characters += len(text)
        return cls.from_lists(offsets, hashes, characters)

    @classmethod
    def from_lists(cls, offsets: "list[int] | np.ndarray", hashes: "list[int] | np.ndarray", characters: int | None = None, order: np.ndarray | None = None) -> "SnippetIndex":
        """An index from line offsets (N+1, starting at 0) and id hashes (N) in file order;
        `order` is their stable argsort when the caller has it already."""
        hash_array = np.asarray(hashes, dtype=np.uint64)
        if order is None:
            order = np.argsort(hash_array, kind="stable")
        return cls(np.asarray(offsets, dtype=np.int64), hash_array[order], order.astype(np.int64), characters)

    def save(self, directory: Path, signature: dict[str, int]) -> None:
        """Write the arrays, then the signature of the snippets file they describe (last)."""
        layout = CorpusLayout(directory)
        layout.index_dir.mkdir(exist_ok=True)
        # Leftovers of a killed save (a minute old: a concurrent opener may be saving too).
        for path in layout.snippet_index_files():
            remove_stale_temps(path.parent, path.name, time.time() - 60)
        for name, array in zip(SNIPPET_INDEX_ARRAYS, (self.offsets, self.hashes, self.positions)):
            atomic_write_bytes(layout.snippet_index_array(name), [_npy_bytes(array)])
        meta = {"version": _INDEX_VERSION, "signature": signature, "snippets": len(self), "characters": self.characters}
        atomic_write_bytes(layout.snippet_index_meta, [json.dumps(meta).encode()])

    @classmethod
    def load(cls, directory: Path, signature: dict[str, int]) -> "SnippetIndex | None":
        """The saved index if it was made for this exact snippets file, else None."""
        layout = CorpusLayout(directory)
        try:
            meta = json.loads(layout.snippet_index_meta.read_text())
            if meta.get("version") != _INDEX_VERSION or meta.get("signature") != signature:
                return None
            # Memory-mapped (nothing read until used), as plain arrays: np.memmap's indexing is slow.
            arrays = [np.asarray(np.load(layout.snippet_index_array(name), mmap_mode="r")) for name in SNIPPET_INDEX_ARRAYS]
        except (OSError, ValueError, AttributeError):
            return None
        if len(arrays[0]) != meta["snippets"] + 1 or len(arrays[1]) != meta["snippets"]:
            return None
        return cls(*arrays, characters=meta.get("characters"))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def candidates(self, snippet_id: str) -> Iterator[int]:
        """Positions whose id hashes like `snippet_id` (almost always one, or none)."""
        target = id_hash(snippet_id)
        hashes = self.hashes
        index = int(hashes.searchsorted(np.uint64(target)))
        while index < len(hashes) and int(hashes[index]) == target:
            yield int(self.positions[index])
            index += 1


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array))
    return buffer.getvalue()


def _snippet_fields_of_line(line: bytes, path: Path, line_number: int) -> tuple[str, str]:
    try:
        data = json.loads(line)
        snippet_id, text = data["id"], data["text"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`") from None
    if not isinstance(snippet_id, str) or not isinstance(text, str):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`")
    return snippet_id, text
