"""corpus.toml: read and validated into a CorpusConfig, written atomically."""

from __future__ import annotations

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
        raise StoreError(f"{path}: {validation_message(error)}") from None


def write_config(directory: Path, config: CorpusConfig) -> None:
    data = config.model_dump(exclude_none=True)  # TOML has no null: a fact not stated stays out
    atomic_write_bytes(CorpusLayout(directory).config, [tomli_w.dumps(data).encode("utf-8")])
