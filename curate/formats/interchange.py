"""Helpers the format modules share: `ImportedRecord` (what every reader of other tools' files yields:
one text with its spans, or the reason it cannot be read), strict field checks, UTF-16 offsets,
JSON and JSONL reading, and the one-JSONL-file-per-split writer."""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curate.formats.base import Writer, safe_child, writing


@dataclass
class ImportedRecord:
    """One annotated text from another tool; offsets are `str` indices into `text`.

    `stories` and `boilerplate` are None when the tool has no such notion (the whole text is
    then one story without boilerplate).
    """

    where: str
    text: str | None = None
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    snippet_id: str | None = None
    stories: list[tuple[int, int, bool]] | None = None
    boilerplate: list[tuple[int, int, str]] | None = None
    status: str = "done"
    note: str | None = None
    problem: str | None = None
    placed: int = 0
    """How many of the file's texts were placed onto this snippet by their tokens (0: read as is)."""
    file_offsets: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    """The file's own offsets of a span, where they differ from the `str` offsets (UTF-16 counting)."""
    not_imported: dict[str, int] = field(default_factory=dict)
    """What the file holds that curate does not import, by kind (brat relations, events...), with counts."""
    notes: list[str] = field(default_factory=list)
    """`file:line: ...` lines the user should read (how the reader settled something the file left open)."""
    token_lines: list[tuple[int, int]] | None = None
    """(offset, file line) of each token, sorted, where a text is spread over lines of the file
    (CoNLL, a token a line): a message about a span then names its token's line."""

    def where_at(self, offset: int) -> str:
        """`file:line` of the span starting at `offset`: its token's line, else the record's."""
        if not self.token_lines:
            return self.where
        index = max(bisect_right(self.token_lines, (offset, float("inf"))) - 1, 0)
        return f"{self.where.rpartition(':')[0]}:{self.token_lines[index][1]}"

    def shown(self, start: int, end: int) -> str:
        """A span as the file wrote it: `[start,end)` in the file's own offsets."""
        file_start, file_end = self.file_offsets.get((start, end), (start, end))
        return f"[{file_start},{file_end})"


class BadValue(ValueError):
    """A field of another tool's record that curate cannot take (the message names it)."""


def short(value: object, width: int = 40) -> str:
    """`repr(value)` cut to `width` characters, for messages about hostile input."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def offset(value: object, name: str = "offset") -> int:
    """A strict character offset: an integer (an integral float such as 17.0 too), never a float
    with a fraction, a string or a bool (records are strict; 17.9 is not silently cut to 17)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadValue(f"{name} must be an integer, got {short(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise BadValue(f"{name} must be an integer, got {short(value)}")
        value = int(value)
    if value < 0:
        raise BadValue(f"{name} must not be negative, got {short(value)}")
    return value


def label(value: object, name: str = "label") -> str:
    """A label: a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"{name} must be a non-empty string, got {short(value)}")
    return value


def record_id(value: object) -> str | None:
    """A snippet id from another tool's record: a string or an integer; anything else is no id."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class Utf16:
    """Offsets of a text counted in UTF-16 code units (JavaScript's string indices, as doccano and
    Label Studio count) to and from Python `str` indices (code points). A character outside the
    Basic Multilingual Plane (most emoji, each half of a flag) is one code point but two units;
    combining marks are one of each, so they need nothing."""

    def __init__(self, text: str) -> None:
        self.length = len(text)
        self.units: list[int] | None = None
        if any(ord(character) > 0xFFFF for character in text):
            units = [0]
            for character in text:
                units.append(units[-1] + (2 if ord(character) > 0xFFFF else 1))
            self.units = units

    def to_index(self, value: int) -> int:
        """The `str` index of UTF-16 offset `value` (past the end stays past the end, by as much)."""
        if self.units is None:
            return value
        total = self.units[-1]
        if value >= total:
            return self.length + (value - total)
        index = bisect_left(self.units, value)
        if self.units[index] != value:
            raise BadValue(f"offset {value} falls inside a character that UTF-16 counts as two units (a surrogate pair)")
        return index

    def to_units(self, index: int) -> int:
        """The UTF-16 offset of `str` index `index`."""
        return index if self.units is None else self.units[index]

    def span(self, record: ImportedRecord, start: int, end: int) -> tuple[int, int]:
        """A span in UTF-16 offsets as `str` indices; the file's offsets are kept on `record` for messages."""
        converted = self.to_index(start), self.to_index(end)
        if converted != (start, end):
            record.file_offsets[converted] = (start, end)
        return converted


def json_records(path: Path) -> Iterator[tuple[str, object | None, str | None]]:
    """(where, value, problem) for each record of a file that is a JSON array, one JSON object or
    JSONL; `where` is the line on which the record starts."""
    raw = path.read_bytes()
    head = raw.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if head not in (b"[", b"{"):
        yield from json_lines(path)
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        yield f"{path}:{line}", None, f"not UTF-8 (byte {error.start})"
        return
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as error:
        if head == b"{":  # one object per line (JSONL), read line by line
            yield from json_lines(path)
            return
        yield f"{path}:{error.lineno}", None, f"malformed JSON: {error.msg} (column {error.colno})"
        return
    except RecursionError:
        yield f"{path}:1", None, "malformed JSON: nested too deeply"
        return
    if isinstance(whole, dict):
        yield f"{path}:{text.count(chr(10), 0, len(text) - len(text.lstrip())) + 1}", whole, None
        return
    if not isinstance(whole, list):
        yield f"{path}:1", None, "expected a JSON array of records, one record, or JSON lines"
        return
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line, counted = 1, 0
    for value in whole:
        while text[position] in " \t\r\n,":
            position += 1
        line += text.count("\n", counted, position)
        counted = position
        _, position = decoder.raw_decode(text, position)
        yield f"{path}:{line}", value, None


def json_lines(path: Path) -> Iterator[tuple[str, object | None, str | None]]:
    """(where, value, problem) for every non-blank line of a JSONL file."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                yield where, json.loads(raw.decode("utf-8")), None
            except UnicodeDecodeError as error:
                yield where, None, f"not UTF-8 (byte {error.start})"
            except json.JSONDecodeError as error:
                yield where, None, f"malformed JSON: {error.msg.removesuffix(' at')} (column {error.colno})"


def curate_extras(record: dict) -> tuple[list[tuple[int, int, bool]] | None, list[tuple[int, int, str]] | None]:
    """Stories and boilerplate kept by curate's own writers under the `curate` key, if present
    (BadValue when they are there but malformed)."""
    extras = record.get("curate")
    if not isinstance(extras, dict):
        return None, None
    return spans_of(extras.get("stories"), "stories"), spans_of(extras.get("boilerplate"), "boilerplate")


def spans_of(items: object, name: str) -> list | None:
    """curate's own `stories` ([start, end, truncated]) or `boilerplate` ([start, end, kind]) from
    a list of objects; None when absent (or an empty list of stories). BadValue when malformed."""
    if items is None or (name == "stories" and items == []):
        return None
    if not isinstance(items, list):
        raise BadValue(f"{name} must be a list, got {short(items)}")
    found: list = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "start" not in item or "end" not in item:
            raise BadValue(f"{name} item {number} must be an object with start and end, got {short(item)}")
        start, end = offset(item["start"], f"{name} item {number} start"), offset(item["end"], f"{name} item {number} end")
        if name == "stories":
            truncated = item.get("truncated", False)
            if not isinstance(truncated, bool):
                raise BadValue(f"{name} item {number} truncated must be true or false, got {short(truncated)}")
            found.append((start, end, truncated))
        else:
            found.append((start, end, label(item.get("kind"), f"{name} item {number} kind")))
    return found


def curate_extras_of(record) -> dict:
    """The `curate` key written beside other tools' fields: stories and boilerplate of one record."""
    return {
        "stories": [{"start": item.start, "end": item.end, "truncated": item.truncated} for item in record.stories],
        "boilerplate": [{"start": item.start, "end": item.end, "kind": item.kind} for item in record.boilerplate],
    }


class SplitJsonlWriter(Writer):
    """One JSONL file per split, `OUT/<split>.jsonl`, for the per-snippet formats (they define `add`)."""

    suffix = ".jsonl"

    def __init__(self, folder: Path, context) -> None:
        super().__init__(folder, context)
        self.handles: dict[str, object] = {}

    def handle(self, split: str):
        handle = self.handles.get(split)
        if handle is None:
            handle = self.handles[split] = safe_child(self.folder, split, self.suffix).open("w", encoding="utf-8", newline="\n")
        return handle

    def write(self, split: str, value: dict) -> None:
        handle = self.handle(split)
        with writing(handle.name):
            handle.write(json.dumps(value, ensure_ascii=False) + "\n")

    def finish(self) -> list[Path]:
        for handle in self.handles.values():
            with writing(handle.name):
                handle.close()
        return self.written()
