"""corpus.toml: read and validated into a CorpusConfig, written atomically."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from curate.model import CorpusConfig
from curate.store.errors import StoreError
from curate.store.files import atomic_write_bytes
from curate.store.layout import CorpusLayout
from curate.store.lines import validation_message


def read_config(directory: Path) -> CorpusConfig:
    path = CorpusLayout(directory).config
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise StoreError(f"{path}: not found; is {directory} a corpus folder (made by `curate ingest`)?") from None
    except tomllib.TOMLDecodeError as error:
        raise StoreError(f"{path}: {error}") from None
    try:
        return CorpusConfig.model_validate(data)
    except ValidationError as error:
        line = _problem_line(path, error)
        raise StoreError(f"{path}{f':{line}' if line else ''}: {validation_message(error)}") from None


def _problem_line(path: Path, error: ValidationError) -> int | None:
    """The line of corpus.toml holding the first bad key, found by a plain scan of the text
    (`key =` lines, `[table]` headers, the Nth `{` of an inline array or the Nth `[[table]]`);
    None when the scan cannot tell."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    item = error.errors()[0]
    names = re.findall(r"'([^'\n]*)'", str(item["msg"]))
    found: int | None = None
    start = 0
    parts = list(item["loc"])
    if item["type"] == "missing":
        parts = parts[:-1]  # a key that is not there has no line; its table may
    for index, part in enumerate(parts):
        if isinstance(part, int):
            if found is None:
                return None
            header = lines[found - 1].strip()
            if header.startswith("[["):
                hits = [number for number, line in enumerate(lines, start=1) if line.strip() == header]
            else:
                hits = [number for number, line in enumerate(lines[found - 1 :], start=found) if line.lstrip().startswith("{")]
            if part >= len(hits):
                return found
            found = start = hits[part]
            continue
        here = _key_at(lines, part, start, inline=index > 0 and isinstance(parts[index - 1], int))
        if here is None:
            return found
        found = start = here
    for name in names:  # a split or annotator name the message quotes: its own line in the table
        here = _key_at(lines, name, start or 0, inline=False)
        if here is not None and found is not None and here >= found:
            return here
    return found


def _key_at(lines: list[str], key: str, start: int, inline: bool) -> int | None:
    """The first line from `start` (1-based, 0: the top) that sets `key` or opens its table."""
    prefix = r"(?:^|[{,]\s*)" if inline else "^"
    pattern = re.compile(rf"{prefix}(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    header = re.compile(rf"^\[\[?\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*\]\]?$")
    for number, line in enumerate(lines[max(start - 1, 0) :], start=max(start, 1)):
        text = line.strip()
        if header.match(text) or pattern.search(text if inline else text[: text.find("=") + 1] if "=" in text else ""):
            return number
    return None


def write_config(directory: Path, config: CorpusConfig) -> None:
    data = config.model_dump(exclude_none=True)  # TOML has no null: a fact not stated stays out
    atomic_write_bytes(CorpusLayout(directory).config, [tomli_w.dumps(data).encode("utf-8")])
