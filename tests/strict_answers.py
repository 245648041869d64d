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
