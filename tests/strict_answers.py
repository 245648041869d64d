"""The two answers the strict-check tests compare for one journal line: pydantic's (the store's
model) and curate.store.strict's fast check."""

from __future__ import annotations

import msgspec
from pydantic import ValidationError

from curate.model import Annotation
from curate.store.strict import RECORD, accepted


def pydantic_record(line: bytes) -> Annotation | None:
    """The record ``Annotation.model_validate_json`` reads from `line`, or None if it refuses it."""
    try:
        return Annotation.model_validate_json(line)
    except ValidationError:
        return None


def fast_record(line: bytes):
    """The struct the fast check decodes and accepts from `line`, or None if it does not."""
    try:
        record = RECORD.decode(line)
    except (msgspec.MsgspecError, RecursionError):
        return None
    return record if accepted([record])[0] else None


def block_and_alone(lines: list[bytes]):
    """For the lines msgspec decodes as records: the fast check's answers for them checked as
    one block (decoded by the scan's block decoder) and checked one line at a time."""
    import numpy as np

    from curate.store.scan import decode_whole_lines, line_ends
    from curate.store.strict import RECORDS

    decodable = []
    for line in lines:
        try:
            RECORD.decode(line)
        except (msgspec.MsgspecError, RecursionError):
            continue
        decodable.append(line)
    data = b"".join(line + b"\n" for line in decodable)
    records = decode_whole_lines(RECORDS, data, line_ends(data))
    assert records is not None and len(records) == len(decodable)
    return accepted(records), np.array([fast_record(line) is not None for line in decodable])
