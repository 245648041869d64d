"""JSONL record lines: writing a record as one line, and saying why a line is unusable."""

from __future__ import annotations

import json
from dataclasses import dataclass

import msgspec
from pydantic import ValidationError

from curate.model import Annotation, Snippet

TORN_REASON = "torn line (an interrupted write); skipped"


@dataclass
class JournalProblem:
    """A damaged line of a journal (or of gold.jsonl): 1-based line number and why it was skipped."""

    line: int
    reason: str
    torn: bool = False


def record_line(record: Annotation | Snippet) -> bytes:
    """One JSONL line for a record, with None fields left out only where the model allows."""
    return record.model_dump_json().encode("utf-8") + b"\n"


def validation_message(error: ValidationError) -> str:
    """A one-line reason from a pydantic error, for `file:line: reason` reports."""
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def line_problem(line: bytes, error: ValidationError | None = None) -> tuple[str, bool]:
    """Why a JSONL line is unusable and whether it looks torn (its bytes stop mid-record)."""
    body = line.rstrip(b"\r\n")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as decode_error:
        if decode_error.reason == "unexpected end of data":
            return TORN_REASON, True
        return f"invalid UTF-8 at byte {decode_error.start}", False
    try:
        json.loads(decoded)
    except json.JSONDecodeError as json_error:
        if json_error.msg.startswith("Unterminated string") or json_error.pos >= len(decoded.rstrip()):
            return TORN_REASON, True
        return f"malformed JSON: {json_error.msg.removesuffix(' at')} (column {json_error.colno})", False
    except RecursionError:
        return "malformed JSON: nested too deeply", False
    if error is None:
        return "not a valid record", False
    return validation_message(error), False


class SnippetLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A snippets.jsonl line as `Snippet` reads it, without pydantic: what readers of many
    snippets (export, dedup, agreement) use of one is its `id` and `text`."""

    id: str
    text: str
    meta: dict = msgspec.field(default_factory=dict)


_SNIPPET_LINE = msgspec.json.Decoder(SnippetLine)

# A line with fewer opening brackets than this nests less deep than pydantic's JSON parser reads.
_SURE_BRACKETS = 128


def quick_snippet(line: bytes | memoryview) -> SnippetLine | None:
    """A snippets.jsonl line read by msgspec: its id and text equal `Snippet`'s for every line
    `Snippet` accepts (JSON strings are read alike; a lone surrogate fails both). None for a
    line it is not sure of, which the caller reads with `Snippet` (`Corpus.snippet`): not one
    object of those three fields, an empty id, a blank text, or a line that might nest deeper
    than pydantic's JSON parser goes (about 200 levels, which msgspec reads on past): one with
    :data:`_SURE_BRACKETS` or more brackets."""
    line = bytes(line)
    if line.count(b"[") + line.count(b"{") >= _SURE_BRACKETS:
        return None
    try:
        snippet = _SNIPPET_LINE.decode(line)
    except (msgspec.MsgspecError, RecursionError):
        return None
    return snippet if snippet.id and snippet.text and not snippet.text.isspace() else None
