"""Reading journal lines into a journal's index: the last valid record per snippet wins.

Damaged lines (invalid records, records of unknown snippets) are kept as problems with their
line numbers and skipped; records of snippets not in the corpus are remembered, so they find
their place when ingest appends those snippets. An unterminated last line (a write in
progress, or one a crash cut short) stays outside the index's size, so the next scan reads it
again once it is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import BinaryIO

from pydantic import ValidationError

from curate.model import Annotation
from curate.store.index import JournalIndex
from curate.store.lines import JournalProblem, line_problem

# Snippet ids looked up during one scan are remembered, up to this many.
_POSITION_CACHE_SIZE = 1 << 16


class LineScanner:
    """Places the records of journal lines in `index`, finding positions with `position_of`."""

    def __init__(self, index: JournalIndex, record_type: type[Annotation], position_of: Callable[[str], int | None]) -> None:
        self.index = index
        self.record_type = record_type
        self.position_of = position_of
        self.positions: dict[str, int | None] = {}
        self.tail_problem: JournalProblem | None = None

    def scan(self, reader: BinaryIO, start: int) -> None:
        """Read the journal open as `reader` from byte `start` (a line start) to its end."""
        index = self.index
        with os.fdopen(os.dup(reader.fileno()), "rb") as handle:
            handle.seek(start)
            offset = start
            for line in handle:
                if not line.endswith(b"\n"):
                    self.take_tail(line, offset)
                    break
                index.lines += 1
                self.take_line(line, offset, index.lines)
                offset += len(line)
        index.size = offset

    def parse(self, line: bytes) -> tuple[Annotation | None, str, bool]:
        """(record, "", False) for a valid line, else (None, why, whether it looks torn)."""
        try:
            return self.record_type.model_validate_json(line), "", False
        except ValidationError as error:
            reason, torn = line_problem(line, error)
            return None, reason, torn

    def position(self, snippet_id: str) -> int | None:
        positions = self.positions
        if snippet_id in positions:
            return positions[snippet_id]
        if len(positions) >= _POSITION_CACHE_SIZE:
            positions.clear()
        position = positions[snippet_id] = self.position_of(snippet_id)
        return position

    def take_line(self, line: bytes, offset: int, line_number: int) -> None:
        if not line.strip():
            return
        record, reason, torn = self.parse(line)
        if record is None:
            self.index.problems.append(JournalProblem(line_number, reason, torn))
            return
        position = self.position(record.snippet_id)
        if position is None:
            self.index.problems.append(JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}"))
            self.index.unknown[record.snippet_id] = (offset, len(line))
            return
        self.index.set(position, offset, len(line), record.status)

    def take_tail(self, line: bytes, offset: int) -> None:
        """An unterminated last line: a write in progress or cut short by a crash.

        Reported and skipped when it is not a whole record; either way it stays outside
        `index.size`, so the next scan reads it again once it is complete.
        """
        line_number = self.index.lines + 1
        if not line.strip():
            return
        record, reason, torn = self.parse(line)
        if record is None:
            # Cut off mid-record unless it is whole JSON (then it is a bad record, not a cut write).
            try:
                json.loads(line)
            except ValueError:
                self.tail_problem = JournalProblem(line_number, "torn last line (an interrupted write); skipped", True)
            else:
                self.tail_problem = JournalProblem(line_number, reason)
            return
        position = self.position(record.snippet_id)
        if position is None:
            self.tail_problem = JournalProblem(line_number, f"unknown snippet id {record.snippet_id!r}")
            return
        self.index.set(position, offset, len(line), record.status)
