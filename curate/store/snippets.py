"""The snippet index: where each line of snippets.jsonl starts, and which line holds an id.

Snippet *k* is read by seeking to its byte offset, never by loading the file. Ids are found
through a table of 64-bit id hashes sorted with the position of each, so a lookup is one
binary search and (almost always) one id comparison. The arrays are saved under .curate/ as
.npy files and memory-mapped on opening; they are trusted only for the exact snippets.jsonl
they were made from (its signature is saved last, beside them).

Building the index reads snippets.jsonl once with a fast JSON parser that decodes only each
line's id. What :mod:`curate.stats` needs of every text (its length and sha256) is read in a
second pass only when first asked (:func:`read_text_facts`) and saved beside the index.
Both passes read a large file on two cores (:mod:`curate.store.halves`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from itertools import repeat
from operator import attrgetter, methodcaller
from pathlib import Path

import msgspec
import numpy as np

from curate.store.errors import StoreError
from curate.store.files import atomic_write_bytes, remove_stale_temps
from curate.store.halves import abandon_child, child_result, fork_child, middle_line_start, pack, unpack
from curate.store.layout import SNIPPET_INDEX_ARRAYS, CorpusLayout
from curate.store.scan import decode_whole_lines, line_blocks, unreferenced_garbage

# 4: the snippet index's meta keeps the digest of the ids' order (a journal index is of one order).
_INDEX_VERSION = 4


def id_hash(snippet_id: str) -> int:
    """A stable 64-bit hash of a snippet id (the snippet index is sorted by it).

    Two cheap checksums rather than a cryptographic hash: ingest hashes every id, and a
    collision costs only one more id comparison in :meth:`Corpus.position`.
    """
    data = snippet_id.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


class SnippetIndex:
    """Byte offsets of every line of snippets.jsonl and a hash table from id to position."""

    def __init__(self, offsets: np.ndarray, hashes: np.ndarray, positions: np.ndarray, characters: int | None = None, order: str | None = None) -> None:
        self.offsets = offsets
        self.hashes = hashes
        self.positions = positions
        self.characters = characters
        # order_digest() of every snippet, once known (saved with the index).
        self._order = order

    def order_digest(self, count: int | None = None) -> str:
        """A digest of the first `count` (default all) snippet ids in file order (of their id
        hashes): what a journal index is of (its positions), so a snippets.jsonl rewritten in
        another order is noticed, while snippets appended after those `count` are not a change."""
        whole = count is None or count == len(self)
        if whole and self._order is not None:
            return self._order
        in_file_order = np.empty(len(self), dtype=np.uint64)
        in_file_order[self.positions] = self.hashes
        digest = hashlib.blake2b(in_file_order[: len(self) if count is None else count].tobytes(), digest_size=16).hexdigest()
        if whole:
            self._order = digest
        return digest

    @classmethod
    def build(cls, snippets_path: Path) -> "SnippetIndex":
        """Index an existing snippets.jsonl (one pass; used when the saved index is stale).

        Only ids are read (their texts are counted when first asked: :func:`read_text_facts`).
        A large file is read on two cores (:mod:`curate.store.halves`)."""
        ends, hashes = _in_halves(snippets_path, _line_ends_and_id_hashes)
        return cls.from_lists(np.concatenate((np.zeros(1, dtype=np.int64), ends)), hashes)

    @classmethod
    def build_here(cls, snippets_path: Path) -> "SnippetIndex":
        """:meth:`build` in this process alone (a forked child's work: it splits no further)."""
        ends, hashes = _line_ends_and_id_hashes(snippets_path, 0, None, 1)
        return cls.from_lists(np.concatenate((np.zeros(1, dtype=np.int64), ends)), hashes)

    @classmethod
    def from_lists(cls, offsets: "list[int] | np.ndarray", hashes: "list[int] | np.ndarray", characters: int | None = None, order: np.ndarray | None = None) -> "SnippetIndex":
        """An index from line offsets (N+1, starting at 0) and id hashes (N) in file order;
        `order` is their stable argsort when the caller has it already."""
        hash_array = np.asarray(hashes, dtype=np.uint64)
        if order is None:
            order = np.argsort(hash_array, kind="stable")
        in_order = hashlib.blake2b(hash_array.tobytes(), digest_size=16).hexdigest()  # order_digest(), from the hashes in file order
        return cls(np.asarray(offsets, dtype=np.int64), hash_array[order], order.astype(np.int64), characters, in_order)

    def save(self, directory: Path, signature: dict[str, int]) -> None:
        """Write the arrays, then the signature of the snippets file they describe (last)."""
        layout = CorpusLayout(directory)
        layout.index_dir.mkdir(exist_ok=True)
        # Leftovers of a killed save (a minute old: a concurrent opener may be saving too).
        for path in layout.snippet_index_files():
            remove_stale_temps(path.parent, path.name, time.time() - 60)
        for name, array in zip(SNIPPET_INDEX_ARRAYS, (self.offsets, self.hashes, self.positions)):
            atomic_write_bytes(layout.snippet_index_array(name), [_npy_bytes(array)])
        meta = {"version": _INDEX_VERSION, "signature": signature, "snippets": len(self), "characters": self.characters, "order": self.order_digest()}
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
        except (OSError, ValueError, AttributeError, EOFError):  # EOFError: an empty .npy
            return None
        if type(meta.get("snippets")) is not int or len(arrays[0]) != meta["snippets"] + 1 or len(arrays[1]) != meta["snippets"] or len(arrays[2]) != meta["snippets"] or not isinstance(meta.get("order"), str):
            return None
        return cls(*arrays, characters=meta.get("characters"), order=meta["order"])

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


class _Id(msgspec.Struct, gc=False):
    id: str


class _Text(msgspec.Struct, gc=False):
    text: str


class _IdAndText(msgspec.Struct, gc=False):
    id: str
    text: str


_ID, _TEXT = msgspec.json.Decoder(_Id), msgspec.json.Decoder(_Text)
_IDS, _TEXTS = msgspec.json.Decoder(list[_Id]), msgspec.json.Decoder(list[_Text])
_IDS_AND_TEXTS = msgspec.json.Decoder(list[_IdAndText])
_GET_ID, _GET_TEXT = attrgetter("id"), attrgetter("text")
_DIGEST = methodcaller("digest")


def _id_hashes(ids: list[str], path: Path, first_line: int) -> np.ndarray:
    """:func:`id_hash` of each id (the ids of the lines from `first_line` of `path`), the
    per-id work in C (map), combined in numpy. An id that is not valid Unicode (a lone
    surrogate escape, which ingest refuses) is a StoreError naming its line."""
    try:
        encoded = list(map(str.encode, ids))
    except UnicodeEncodeError:
        number = next(number for number, snippet_id in enumerate(ids) if not _encodes(snippet_id))
        raise StoreError(f"{path}:{first_line + number}: snippet id holds a lone surrogate (a \\ud800-\\udfff escape), which is not valid Unicode; run `curate validate {path}`") from None
    hashes = np.fromiter(map(zlib.crc32, encoded), dtype=np.uint64, count=len(ids)) << np.uint64(32)
    hashes |= np.fromiter(map(zlib.adler32, encoded), dtype=np.uint64, count=len(ids))
    return hashes


def _encodes(snippet_id: str) -> bool:
    try:
        snippet_id.encode()
    except UnicodeEncodeError:
        return False
    return True


def _snippet_blocks(path: Path, start: int = 0, end: int | None = None, first_line: int = 1) -> Iterator[tuple[int, int, bytes, np.ndarray]]:
    """(first line number, offset, bytes, line ends) of snippets.jsonl's lines from byte
    `start` (a line start) up to byte `end` (a line start; default the file's end), block by
    block; a last line without its newline ends where the file does."""
    line_number = first_line
    with path.open("rb") as handle:
        for offset, data, ends, last in line_blocks(handle, start):
            if last and len(data) and (not len(ends) or ends[-1] != len(data)):
                ends = np.append(ends, len(data))
            done = False
            if end is not None and len(ends) and offset + int(ends[-1]) >= end:
                ends, done = ends[offset + ends <= end], True
            if len(ends):
                yield line_number, offset, data, ends
                line_number += len(ends)
            if done:
                return


def _ids_of_block(data: bytes, ends: np.ndarray, path: Path, first_line: int) -> list[str]:
    heads = decode_whole_lines(_IDS, data, ends)
    if heads is not None:
        return list(map(_GET_ID, heads))
    view, decode, ids, start = memoryview(data), _ID.decode, [], 0
    for number, end in enumerate(ends.tolist()):
        try:
            ids.append(decode(view[start:end]).id)
        except (msgspec.MsgspecError, RecursionError):
            ids.append(_snippet_fields_of_line(data[start:end], path, first_line + number)[0])
        start = end
    return ids


def _in_halves(path: Path, read: "Callable[[Path, int, int | None, int], tuple[np.ndarray, ...]]") -> tuple[np.ndarray, ...]:
    """`read(path, start, end, first_line)` (arrays of one item per line) over the whole
    file, a large one in two halves at once (:mod:`curate.store.halves`): a forked child reads
    the second half; if it fails in any way (a damaged line there: only this process knows its
    line number) this process reads that half too."""
    with path.open("rb") as handle:
        middle = middle_line_start(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
    child = fork_child(lambda: pack({str(number): array for number, array in enumerate(read(path, middle, None, 1))})) if middle is not None else None
    try:
        first = read(path, 0, middle if child is not None else None, 1)
    except BaseException:
        if child is not None:
            abandon_child(*child)
        raise
    if child is None:
        return first
    second = None
    data = child_result(*child)
    if data is not None:
        try:
            arrays, _ = unpack(data)
            if len(arrays) == len(first):
                second = tuple(arrays[str(number)] for number in range(len(first)))
        except (ValueError, KeyError):
            second = None
    # One item per line in each array, of the types this process's half has.
    if second is None or len({len(array) for array in second}) != 1 or [array.dtype for array in second] != [array.dtype for array in first]:
        second = read(path, middle, None, len(first[0]) + 1)
    return tuple(np.concatenate((mine, theirs)) for mine, theirs in zip(first, second))


def _line_ends_and_id_hashes(path: Path, start: int, end: int | None, first_line: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each line from byte `start` to byte `end` ends, and the :func:`id_hash` of its id."""
    ends, hashes = [], []
    with unreferenced_garbage():
        for line_number, offset, data, block_ends in _snippet_blocks(path, start, end, first_line):
            ends.append(block_ends + offset)
            hashes.append(_id_hashes(_ids_of_block(data, block_ends, path, line_number), path, line_number))
    if not ends:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(ends).astype(np.int64), np.concatenate(hashes)


def build_with_text_facts(snippets_path: Path) -> tuple["SnippetIndex", tuple[np.ndarray, np.ndarray]]:
    """:meth:`SnippetIndex.build` and :func:`read_text_facts` in one pass over the file (each
    line's id and text decoded together), for a caller that needs both and has neither."""
    ends, hashes, lengths, digests = _in_halves(snippets_path, _snippet_facts_between)
    return SnippetIndex.from_lists(np.concatenate((np.zeros(1, dtype=np.int64), ends)), hashes), (lengths, digests)


def _snippet_facts_between(path: Path, start: int, end: int | None, first_line: int) -> tuple[np.ndarray, ...]:
    """Line ends, id hashes, text lengths and text digest prefixes of the lines from byte
    `start` to byte `end` (a line start; None: the file's end)."""
    ends, hashes, lengths, digests = [], [], [], []
    with unreferenced_garbage():
        for line_number, offset, data, block_ends in _snippet_blocks(path, start, end, first_line):
            records = decode_whole_lines(_IDS_AND_TEXTS, data, block_ends)
            if records is not None:
                ids, texts = list(map(_GET_ID, records)), list(map(_GET_TEXT, records))
            else:
                ids = _ids_of_block(data, block_ends, path, line_number)
                texts = _texts_of_block(data, block_ends, path, line_number)
            ends.append(block_ends + offset)
            hashes.append(_id_hashes(ids, path, line_number))
            lengths.append(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
            digests.append(_digest_prefixes(texts))
    if not ends:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(ends).astype(np.int64), np.concatenate(hashes), np.concatenate(lengths), np.concatenate(digests)


def read_text_facts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per line of snippets.jsonl: the text's length in characters, and the first 64 bits of
    the sha256 of its UTF-8 (as :func:`curate.model.text_sha256` hashes it) as an integer.

    A large file is read on two cores (:mod:`curate.store.halves`): a forked child reads the
    second half, and if it fails in any way this process reads it too."""
    return _in_halves(path, _text_facts_between)


def _text_facts_between(path: Path, start: int, end: int | None, first_line: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The text facts of the lines from byte `start` (a line start) to byte `end` (a line
    start, or the file's end)."""
    lengths, digests = [], []
    with unreferenced_garbage():
        for line_number, _, data, ends in _snippet_blocks(path, start, end, first_line):
            records = decode_whole_lines(_TEXTS, data, ends)
            texts = list(map(_GET_TEXT, records)) if records is not None else _texts_of_block(data, ends, path, line_number)
            lengths.append(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
            digests.append(_digest_prefixes(texts))
    if not lengths:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(lengths), np.concatenate(digests)


def _texts_of_block(data: bytes, ends: np.ndarray, path: Path, first_line: int) -> list[str]:
    """The texts of a block's lines one by one (some line is not a whole snippet record)."""
    texts, view, begin = [], memoryview(data), 0
    for number, stop in enumerate(ends.tolist()):
        try:
            texts.append(_TEXT.decode(view[begin:stop]).text)
        except (msgspec.MsgspecError, RecursionError):
            texts.append(_snippet_fields_of_line(data[begin:stop], path, first_line + number)[1])
        begin = stop
    return texts


def _digest_prefixes(texts: list[str]) -> np.ndarray:
    """The first 64 bits of the sha256 of each text's UTF-8, as unsigned integers (the
    per-text work in C: map, not a Python loop)."""
    hashes = map(hashlib.sha256, map(str.encode, texts, repeat("utf-8"), repeat("surrogatepass")))
    whole = np.frombuffer(b"".join(map(_DIGEST, hashes)), dtype=np.uint8).reshape(-1, 32)
    return np.ascontiguousarray(whole[:, :8]).view(">u8").ravel().astype(np.uint64)


def save_text_facts(directory: Path, signature: dict[str, int], lengths: np.ndarray, digests: np.ndarray) -> None:
    buffer = io.BytesIO()
    meta = {"version": _INDEX_VERSION, "signature": signature}
    np.savez(buffer, lengths=lengths, digests=digests, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    atomic_write_bytes(CorpusLayout(directory).snippet_texts, [buffer.getvalue()])


def load_text_facts(directory: Path, signature: dict[str, int], snippets: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The saved text facts if they were made for this exact snippets file, else None."""
    try:
        with np.load(CorpusLayout(directory).snippet_texts) as arrays:
            meta = json.loads(arrays["meta"].tobytes())
            if meta.get("version") != _INDEX_VERSION or meta.get("signature") != signature:
                return None
            lengths, digests = arrays["lengths"], arrays["digests"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):  # an empty, cut or foreign file
        return None
    if len(lengths) != snippets or len(digests) != snippets:
        return None
    return lengths, digests


def _snippet_fields_of_line(line: bytes, path: Path, line_number: int) -> tuple[str, str]:
    if not line.strip():
        raise StoreError(f"{path}:{line_number}: blank line in snippets file")
    try:
        data = json.loads(line)
        snippet_id, text = data["id"], data["text"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`") from None
    if not isinstance(snippet_id, str) or not isinstance(text, str):
        raise StoreError(f"{path}:{line_number}: not a snippet record; run `curate validate {path}`")
    return snippet_id, text
