"""brat standoff: `NAME.txt` with `NAME.ann` beside it; `T` lines are entities.

FILE is one `.ann` (or its `.txt`), or a folder whose `.ann` files are all read. The snippet id
is the file name without `.ann` (relative to the folder). Offsets are character offsets, as
in Python. Discontinuous spans (`0 5;9 12`) cannot be one flat entity and are reported;
relations, events, attributes and notes are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord


def _read_pair(ann_path: Path, snippet_id: str) -> ImportedRecord:
    text_path = ann_path.with_suffix(".txt")
    where = f"{ann_path}:0"
    if not text_path.exists():
        return ImportedRecord(where, problem=f"no text file {text_path.name} beside it")
    try:
        text = text_path.read_bytes().decode("utf-8")  # no newline translation: offsets count \r
        lines = ann_path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        return ImportedRecord(where, problem=f"not UTF-8 (byte {error.start})")
    entities = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("T"):
            continue
        where = f"{ann_path}:{number}"
        parts = line.rstrip("\r").split("\t")
        if len(parts) < 2:
            return ImportedRecord(where, problem="a T line is `ID<TAB>LABEL START END<TAB>TEXT`")
        fields = parts[1].split(" ", 1)
        if len(fields) != 2 or ";" in fields[1]:
            return ImportedRecord(where, problem=f"discontinuous or malformed span {parts[1]!r}")
        try:
            start, end = (int(value) for value in fields[1].split())
        except ValueError:
            return ImportedRecord(where, problem=f"offsets must be two integers, got {fields[1]!r}")
        if len(parts) > 2 and text[start:end] != parts[2]:
            return ImportedRecord(where, problem=f"the text at [{start},{end}) is {text[start:end]!r}, the line says {parts[2]!r}")
        entities.append((start, end, fields[0]))
    entities.sort()
    return ImportedRecord(f"{ann_path}:1", text=text, entities=entities, snippet_id=snippet_id)


def read(path: Path) -> Iterator[ImportedRecord]:
    if path.is_dir():
        for ann_path in sorted(path.rglob("*.ann")):
            yield _read_pair(ann_path, ann_path.relative_to(path).with_suffix("").as_posix())
        return
    ann_path = path.with_suffix(".ann")
    if not ann_path.exists():
        yield ImportedRecord(f"{path}:0", problem=f"no annotation file {ann_path.name}")
        return
    yield _read_pair(ann_path, ann_path.stem)
