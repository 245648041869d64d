"""brat standoff: `NAME.txt` with `NAME.ann` beside it; `T` lines are entities.

FILE is one `.ann` (or its `.txt`), or a folder whose `.ann` files are all read. The snippet id
is the file name without `.ann` (relative to the folder). Offsets are character offsets, as
in Python. Discontinuous spans (`0 5;9 12`) cannot be one flat entity and are reported.

What curate has no place for is not imported but counted, by kind, for the import's report:
events (`E`), relations (`R`), attributes (`A`/`M`), notes (`#`), normalizations (`N`) and
equivalences (`*`). The `T` lines that are event triggers (the `TYPE:Tn` first on an `E` line)
mark a word that names an event, not an entity: they are left out too (counted) unless
`triggers` is set (`--brat-triggers`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.formats.interchange import ImportedRecord, short

KINDS = {
    "E": "events (E)",
    "R": "relations (R)",
    "A": "attributes (A)",
    "M": "attributes (A)",
    "#": "notes (#)",
    "N": "normalizations (N)",
    "*": "equivalences (*)",
}
TRIGGERS = "event triggers (T lines named by E lines)"


def _read_pair(ann_path: Path, snippet_id: str, triggers: bool) -> ImportedRecord:
    text_path = ann_path.with_suffix(".txt")
    where = f"{ann_path}:1"
    if not text_path.is_file():
        return ImportedRecord(where, problem=f"no text file {text_path.name} beside it")
    try:
        text = text_path.read_bytes().decode("utf-8")  # no newline translation: offsets count \r
        lines = ann_path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        return ImportedRecord(where, problem=f"not UTF-8 (byte {error.start})")
    except OSError as error:
        return ImportedRecord(where, problem=f"cannot be read: {error.strerror or error}")
    entities: dict[str, tuple[int, tuple[int, int, str]]] = {}
    trigger_ids: set[str] = set()
    not_imported: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        where = f"{ann_path}:{number}"
        if not line.strip():
            continue
        kind = KINDS.get(line[0])
        if kind is not None:
            not_imported[kind] = not_imported.get(kind, 0) + 1
            if line[0] == "E":
                parts = line.split("\t")
                first = parts[1].split(" ", 1)[0] if len(parts) > 1 else ""
                if ":" in first:
                    trigger_ids.add(first.split(":", 1)[1])
            continue
        if not line.startswith("T"):
            return ImportedRecord(where, problem=f"not a brat annotation line: {short(line)}")
        parts = line.split("\t")
        if len(parts) < 2:
            return ImportedRecord(where, problem="a T line is `ID<TAB>LABEL START END<TAB>TEXT`")
        fields = parts[1].split(" ", 1)
        if len(fields) != 2 or ";" in fields[1]:
            return ImportedRecord(where, problem=f"discontinuous or malformed span {short(parts[1])}")
        offsets = fields[1].split()
        if len(offsets) != 2 or not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in offsets):
            return ImportedRecord(where, problem=f"offsets must be two integers, got {short(fields[1])}")
        start, end = int(offsets[0]), int(offsets[1])
        if not fields[0]:
            return ImportedRecord(where, problem="a T line needs a label")
        if end <= len(text) and len(parts) > 2 and text[start:end] != parts[2]:
            return ImportedRecord(where, problem=f"the text at [{start},{end}) is {short(text[start:end])}, the line says {short(parts[2])}")
        entities[parts[0]] = (number, (start, end, fields[0]))
    record = ImportedRecord(f"{ann_path}:1", text=text, snippet_id=snippet_id)
    for entity_id, (_, entity) in entities.items():
        if entity_id in trigger_ids and not triggers:
            not_imported[TRIGGERS] = not_imported.get(TRIGGERS, 0) + 1
            continue
        record.entities.append(entity)
    record.entities.sort()
    record.not_imported = not_imported
    return record


def read(path: Path, *, triggers: bool = False, **_options) -> Iterator[ImportedRecord]:
    if path.is_dir():
        for ann_path in sorted(path.rglob("*.ann")):
            yield _read_pair(ann_path, ann_path.relative_to(path).with_suffix("").as_posix(), triggers)
        return
    ann_path = path.with_suffix(".ann")
    if not ann_path.exists():
        yield ImportedRecord(f"{path}:1", problem=f"no annotation file {ann_path.name}")
        return
    yield _read_pair(ann_path, ann_path.stem, triggers)
