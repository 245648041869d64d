"""The few fields agreement reads from snippet and record lines, decoded without validation.

Agreement only reads lines the store already validated (snippets.jsonl at ingest, journal
lines when the journal index was built), so it decodes each line straight into small msgspec
structs holding just the fields it uses: for 100k snippets x 3 annotators this is several
times faster than building pydantic models or dicts. A line msgspec refuses (a shape the
store's models accept in some other spelling) is read through the store's models instead.
Snippet lines are read by :func:`curate.store.quick_snippet`, as the export reads them.
(A journal whose index a quick scan made may be read through ``Journal.read_unchecked``,
which validates each line as the store does and gives the store's own structs, with the
same field names: agreement reads them as it reads a :class:`Record`.)
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated

import msgspec
import numpy as np

from curate.model import Annotation
from curate.store import Corpus, StoreError, quick_snippet


class Story(msgspec.Struct, gc=False):
    start: int
    end: int
    truncated: bool = False


class Entity(msgspec.Struct, gc=False):
    start: int
    end: int
    label: str


class Boilerplate(msgspec.Struct, gc=False):
    start: int
    end: int
    kind: str


class Record(msgspec.Struct, gc=False):
    """What agreement reads of an annotation record."""

    stories: Annotated[list[Story], msgspec.Meta(min_length=1)]
    entities: list[Entity] = []
    boilerplate: list[Boilerplate] = []
    text_sha256: str | None = None


_record_decoder = msgspec.json.Decoder(Record)


def record_of(value: Annotation | dict | Record) -> Record:
    """A :class:`Record` from an Annotation, its JSON dict, or a Record."""
    if isinstance(value, Record):
        return value
    if not isinstance(value, dict):
        value = value.model_dump()
    return msgspec.convert(value, Record)


def decode_record(line: bytes) -> Record:
    """The record of one journal line (validated by the store when it indexed the journal)."""
    try:
        return _record_decoder.decode(line)
    except msgspec.DecodeError:
        return record_of(Annotation.model_validate_json(line))


def decode_records(lines: Iterable[bytes]) -> Iterator[Record]:
    decode = _record_decoder.decode
    for line in lines:
        try:
            yield decode(line)
        except msgspec.DecodeError:
            yield decode_record(line)


def snippet_texts(corpus: Corpus, positions: np.ndarray) -> tuple[list[str], list[str]]:
    """Ids and texts of the snippets at ``positions``, sliced from one memory map of
    snippets.jsonl through the corpus's byte-offset index."""
    ids: list[str] = []
    texts: list[str] = []
    if not len(positions):
        return ids, texts
    offsets = corpus.index.offsets
    starts = offsets[positions].tolist()
    ends = offsets[np.asarray(positions) + 1].tolist()
    with corpus.snippets_path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if len(data) < int(offsets[-1]):
            raise StoreError(f"{corpus.snippets_path}: shorter than its index; was it changed after ingest?")
        for position, start, end in zip(_as_list(positions), starts, ends):
            # a line msgspec is not sure of: another spelling the model accepts, or a clear error
            snippet = quick_snippet(data[start:end]) or corpus.snippet(position)
            ids.append(snippet.id)
            texts.append(snippet.text)
    return ids, texts


def _as_list(values: Sequence[int] | np.ndarray) -> list[int]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)
