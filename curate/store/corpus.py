"""An opened corpus folder: its config, its snippets read lazily by offset, and its journals."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from curate.model import Snippet
from curate.store.config import read_config
from curate.store.errors import StoreError
from curate.store.files import file_signature, pread_up_to
from curate.store.gold import GoldStore
from curate.store.journal import Journal
from curate.store.layout import CorpusLayout
from curate.store.names import check_annotator_name, is_annotator_name
from curate.store.scan import place_ids
from curate.store.snippets import SnippetIndex, build_with_text_facts, load_text_facts, read_text_facts, save_text_facts

# How snippets.jsonl lines written by `curate ingest` begin; lets a lookup read only the id.
_ID_PREFIX = b'{"id": "'
_ID_PEEK_BYTES = 256


class Corpus:
    """An opened corpus folder. Snippets are read lazily through the byte-offset index."""

    def __init__(self, path: Path, *, index_later: bool = False) -> None:
        """Open the folder; with `index_later`, the snippet index (built in one pass over
        snippets.jsonl when .curate/ has none) is loaded on first use instead of here, so a UI
        can check the cheap things and show a screen first."""
        self.path = Path(path)
        self.layout = CorpusLayout(self.path)
        if not self.path.is_dir():
            raise StoreError(f"{self.path}: no such corpus folder")
        self.config = read_config(self.path)
        self.snippets_path = self.layout.snippets
        if not self.snippets_path.exists():
            raise StoreError(f"{self.snippets_path}: not found")
        self._handle = open(self.snippets_path, "rb", buffering=0)
        self._signature = file_signature(self.snippets_path)
        self._text_facts: tuple[np.ndarray, np.ndarray] | None = None
        self._index: SnippetIndex | None = None
        self._saving: threading.Thread | None = None  # saving a snippet index built elsewhere
        if not index_later:
            self._load_index()

    def _load_index(self) -> SnippetIndex:
        index = SnippetIndex.load(self.path, self._signature)
        if index is None:
            index = SnippetIndex.build(self.snippets_path)
            self._save_index_quietly(index)
        self._index = index
        return index

    def _save_index_quietly(self, index: SnippetIndex) -> None:
        try:
            index.save(self.path, self._signature)
        except OSError:
            pass  # a read-only corpus still opens, just more slowly each time

    def index_ready(self) -> bool:
        """Whether the snippet index is loaded, or saved for this snippets.jsonl (it is loaded
        now); False when it must be built (a fresh clone, a deleted .curate/)."""
        if self._index is None:
            self._index = SnippetIndex.load(self.path, self._signature)
        return self._index is not None

    def adopt_index(self, index: SnippetIndex, *, save: bool = True) -> None:
        """Use `index`, built from this snippets.jsonl elsewhere (beside a journal's first
        scan: :mod:`curate.store.scan`), and save it unless told not to: in a thread, so the
        journal's records are placed meanwhile (writing and fsyncing release the GIL);
        :meth:`close` waits for it."""
        self._index = index
        if save:
            self._saving = threading.Thread(target=self._save_index_quietly, args=(index,), name="curate-save-snippet-index")
            self._saving.start()

    @property
    def index(self) -> SnippetIndex:
        """Byte offsets and id lookup of every snippet."""
        index = self._index
        return self._load_index() if index is None else index

    @classmethod
    def open(cls, path: Path | str, *, index_later: bool = False) -> "Corpus":
        return cls(Path(path), index_later=index_later)

    def close(self) -> None:
        if self._saving is not None:
            self._saving.join()
        self._handle.close()

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def characters(self) -> int:
        """Characters in all snippet texts (kept in the index; counted once if it is missing)."""
        if self.index.characters is None:
            self.index.characters = int(self.text_facts()[0].sum())
        return self.index.characters

    def text_facts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per snippet position: its text's length in characters and the first 64 bits of its
        text_sha256 (an unsigned integer). Read in one pass over snippets.jsonl when first asked
        and saved under .curate/ for this exact file. A corpus opened with `index_later` whose
        snippet index is not saved either (a fresh clone, a deleted .curate/) builds both in
        the same pass (:func:`build_with_text_facts`)."""
        if self._text_facts is None:
            if self._index is None:
                self._index = SnippetIndex.load(self.path, self._signature)
                if self._index is None:
                    index, facts = build_with_text_facts(self.snippets_path)
                    self._save_index_quietly(index)
                    self._index = index
                    self._keep_text_facts(facts)
                    return facts
            facts = load_text_facts(self.path, self._signature, len(self))
            if facts is None:
                facts = read_text_facts(self.snippets_path)
                if len(facts[0]) != len(self):
                    raise StoreError(f"{self.snippets_path}: changed while curate read it; try again")
                self._keep_text_facts(facts)
            self._text_facts = facts
        return self._text_facts

    def _keep_text_facts(self, facts: tuple[np.ndarray, np.ndarray]) -> None:
        self._text_facts = facts
        try:
            save_text_facts(self.path, self._signature, *facts)
        except OSError:
            pass  # derived: a read-only corpus counts them again next time

    def _read(self, start: int, length: int) -> bytes:
        data = pread_up_to(self._handle.fileno(), length, start)
        if len(data) < length:
            raise StoreError(f"{self.snippets_path}: shorter than its index; was it changed after ingest?")
        return data

    def _line(self, position: int) -> bytes:
        start = int(self.index.offsets[position])
        return self._read(start, int(self.index.offsets[position + 1]) - start)

    def snippet(self, position: int) -> Snippet:
        """Snippet at `position` (0-based, in file order), read by seeking to its offset."""
        if not 0 <= position < len(self):
            raise IndexError(f"snippet position {position} is outside 0..{len(self) - 1}")
        line = self._line(position)
        try:
            return Snippet.model_validate_json(line)
        except ValidationError as error:
            deeper = _read_deeper(line, error)
            if deeper is None:
                raise
            return deeper

    def snippet_id(self, position: int) -> str:
        """The id of the snippet at `position`, reading only the start of its line when it can."""
        start = int(self.index.offsets[position])
        length = int(self.index.offsets[position + 1]) - start
        head = self._read(start, min(length, _ID_PEEK_BYTES))
        if head.startswith(_ID_PREFIX):
            close = head.find(b'"', len(_ID_PREFIX))
            if close != -1 and b"\\" not in head[len(_ID_PREFIX) : close]:
                return head[len(_ID_PREFIX) : close].decode("utf-8")
        return json.loads(self._line(position))["id"]

    def position(self, snippet_id: str) -> int | None:
        """Position of the snippet with this id, or None."""
        for candidate in self.index.candidates(snippet_id):
            if self.snippet_id(candidate) == snippet_id:
                return candidate
        return None

    def positions_of(self, snippet_ids: list[str]) -> np.ndarray:
        """:meth:`position` of many ids at once (-1 for an id not in the corpus), found by
        their hashes in the snippet index. A rare id whose 64-bit hash is a snippet's but which
        is not that snippet's id gets that snippet's position: compare the ids when reading."""
        return place_ids(self, snippet_ids)

    def snippet_by_id(self, snippet_id: str) -> Snippet | None:
        position = self.position(snippet_id)
        return None if position is None else self.snippet(position)

    def iter_snippets(self) -> Iterator[Snippet]:
        with self.snippets_path.open("rb") as handle:
            for line in handle:
                yield Snippet.model_validate_json(line)

    # ---- journals

    @property
    def annotations_dir(self) -> Path:
        return self.layout.annotations

    def journal_path(self, annotator: str) -> Path:
        return self.layout.journal(check_annotator_name(annotator))

    def annotators(self) -> list[str]:
        """Names of every annotator with a journal, sorted (an empty journal, which older
        versions made on opening one for writing, is nobody's)."""
        if not self.annotations_dir.is_dir():
            return []
        names = []
        for path in self.annotations_dir.glob("*.jsonl"):
            try:
                empty = path.stat().st_size == 0
            except OSError:
                continue
            if not empty and is_annotator_name(path.stem):
                names.append(path.stem)
        return sorted(names)

    def journal(self, annotator: str, *, writable: bool = False, facts_later: bool = False) -> Journal:
        """The annotator's journal; `writable=True` locks it against a second writer;
        `facts_later` leaves the records' text facts and seconds to be read when first asked
        (see :class:`Journal`), for an opener that needs only statuses and records."""
        return Journal(self, self.journal_path(annotator), writable=writable, facts_later=facts_later)

    @property
    def suggestions_path(self) -> Path:
        return self.layout.suggestions

    def suggestions(self, *, writable: bool = False, facts_later: bool = False) -> Journal:
        return Journal(self, self.suggestions_path, writable=writable, facts_later=facts_later)

    def gold(self) -> GoldStore:
        return GoldStore(self)


def _read_deeper(line: bytes, error: ValidationError) -> Snippet | None:
    """The snippet on `line` when pydantic's JSON parser refused it only for nesting deeper than
    it reads (about 200 levels; a snippet's meta may hold any JSON, and ingest and `curate
    validate` read it with Python's json): read as they read it, unless it holds a lone
    surrogate (which the JSON parser refuses too) or nests deeper than Python's json reads."""
    problems = error.errors()
    if len(problems) != 1 or problems[0]["type"] != "json_invalid" or "recursion limit" not in problems[0]["msg"]:
        return None
    try:
        data = json.loads(line)
        snippet = Snippet.model_validate(data)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError):  # (a ValidationError is a ValueError)
        return None
    return snippet
