"""Interchange formats: the registry of every format `curate export` writes and `curate import` reads.

One module per format beside this file holds both directions (its `Writer` and its `read`,
see `base.py` for the contract), and one `Format` line below registers it. Everything else
(`export_corpus`, `import_annotations`, the CLI's `--format` choices and help) asks this
registry, so adding a format is that module and that line.

Each entry names its module and imports it with an import written out in its own loader,
called only when the format is used: the Hugging Face and spaCy formats pull in datasets,
pyarrow and spaCy, which `curate --help` and the annotation UI never need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from curate.formats.base import Writer
    from curate.formats.interchange import ImportedRecord


@dataclass(frozen=True)
class Format:
    name: str
    """What `--format` takes."""
    summary: str
    """A few words for the CLI's help."""
    module: str
    """The module that holds the format (what `load` imports)."""
    load: Callable[[], ModuleType]
    writes: bool = False
    """Has a `Writer` (`curate export --format NAME`)."""
    reads: bool = False
    """Has a `read` (`curate import --format NAME`)."""
    agreement: bool = False
    """Its output carries the corpus's agreement summary (the dataset card)."""

    def writer(self, folder: Path, context: Any) -> Writer:
        """The format's Writer over `folder` (importing the format's libraries now)."""
        return self.load().Writer(folder, context)

    def read(self, path: Path, **options: Any) -> Iterator[ImportedRecord]:
        """The format's records of `path`; options the reader does not take are ignored."""
        return self.load().read(path, **options)


def _hf() -> ModuleType:
    from curate.formats import hf

    return hf


def _conll() -> ModuleType:
    from curate.formats import conll

    return conll


def _spacy() -> ModuleType:
    from curate.formats import spacy

    return spacy


def _jsonl() -> ModuleType:
    from curate.formats import jsonl

    return jsonl


def _prodigy() -> ModuleType:
    from curate.formats import prodigy

    return prodigy


def _doccano() -> ModuleType:
    from curate.formats import doccano

    return doccano


def _labelstudio() -> ModuleType:
    from curate.formats import labelstudio

    return labelstudio


def _brat() -> ModuleType:
    from curate.formats import brat

    return brat


FORMATS: tuple[Format, ...] = (
    Format("hf", "Hub-ready dataset folder", "curate.formats.hf", _hf, writes=True, agreement=True),
    Format("conll", "CoNLL-2003 IOB2", "curate.formats.conll", _conll, writes=True, reads=True),
    Format("spacy", "DocBin for spacy train", "curate.formats.spacy", _spacy, writes=True),
    Format("jsonl", "curate's own records", "curate.formats.jsonl", _jsonl, writes=True, reads=True),
    Format("prodigy", "ner_manual tasks", "curate.formats.prodigy", _prodigy, writes=True, reads=True),
    Format("doccano", "sequence-labelling JSONL", "curate.formats.doccano", _doccano, writes=True, reads=True),
    Format("labelstudio", "Label Studio JSON tasks", "curate.formats.labelstudio", _labelstudio, writes=True, reads=True),
    Format("brat", "standoff .ann beside .txt", "curate.formats.brat", _brat, reads=True),
)
BY_NAME: dict[str, Format] = {entry.name: entry for entry in FORMATS}
EXPORT_FORMATS: tuple[str, ...] = tuple(entry.name for entry in FORMATS if entry.writes)
IMPORT_FORMATS: tuple[str, ...] = tuple(entry.name for entry in FORMATS if entry.reads)


def get(name: str, *, writes: bool = False, reads: bool = False) -> Format | None:
    """The format called `name` that writes (or reads) as asked, or None."""
    entry = BY_NAME.get(name)
    if entry is None or (writes and not entry.writes) or (reads and not entry.reads):
        return None
    return entry


def format_help(names: tuple[str, ...]) -> str:
    """`--format` help: each format with its summary, e.g. `hf (Hub-ready dataset folder), ... or brat (...)`."""
    shown = [f"{name} ({BY_NAME[name].summary})" for name in names]
    return (", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else "".join(shown)) + "."
