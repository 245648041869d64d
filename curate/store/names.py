"""Annotator names become file names, so they follow the model's safe-name rule."""

from __future__ import annotations

import re

from curate.model import SAFE_NAME_PATTERN, SAFE_NAME_RULE
from curate.store.errors import StoreError

_ANNOTATOR_NAME = re.compile(SAFE_NAME_PATTERN)


def is_annotator_name(name: str) -> bool:
    return _ANNOTATOR_NAME.fullmatch(name) is not None


def check_annotator_name(name: str) -> str:
    """Annotator names become file names: letters, digits, `.`, `_`, `-` only."""
    if not is_annotator_name(name):
        raise StoreError(f"annotator name {name!r} is not allowed: {SAFE_NAME_RULE}")
    return name
