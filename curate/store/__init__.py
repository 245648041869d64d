"""The corpus folder of DESIGN.md: config, snippets with a byte-offset index, journals, gold.

This module is the store's only public face: import from ``curate.store``, never from its
modules. What each holds, and why:

- :mod:`~curate.store.layout`: every path of the corpus folder (:class:`CorpusLayout`, and
  the folder's tree in its docstring); nothing outside the store spells a path of it.
- :mod:`~curate.store.corpus`: :class:`Corpus`, an opened folder; snippets are read lazily
  through the byte-offset index of :mod:`~curate.store.snippets` (:class:`SnippetIndex`).
- :mod:`~curate.store.journal`: :class:`Journal`, an annotator's append-only journal (or
  suggestions.jsonl); its statuses are asked by name (``status_mask``,
  ``positions_with_status``, ``status_of``, ``counts``). Its derived index is
  :mod:`~curate.store.index`; reading lines into it is :mod:`~curate.store.scan`.
- :mod:`~curate.store.gold`: :class:`GoldStore`, gold.jsonl rewritten atomically under a lock.
- :mod:`~curate.store.files`: atomic rewrites, fsync, the mode of new files
  (:data:`FILE_MODE`), :func:`file_signature`.
- :mod:`~curate.store.config`: corpus.toml; :mod:`~curate.store.lines`: record lines and
  why a line is damaged; :mod:`~curate.store.names`: annotator names;
  :mod:`~curate.store.errors`: :class:`StoreError` and its kinds, :func:`error_reason`.
"""

from curate.store.config import read_config, write_config
from curate.store.corpus import Corpus
from curate.store.errors import JournalLocked, SaveFailed, StoreError, error_reason
from curate.store.files import FILE_MODE, atomic_write_bytes, default_file_mode, file_signature, fsync_directory
from curate.store.gold import GoldStore
from curate.store.journal import COMPACT_MIN_BYTES, COMPACT_RATIO, Journal
from curate.store.layout import (
    CONFIG_NAME,
    ENTITY_MODEL_NAME,
    GOLD_NAME,
    INDEX_DIR,
    LEARNED_NAME,
    NER_MODEL_NAME,
    SNIPPETS_NAME,
    STORY_MODEL_NAME,
    CorpusLayout,
)
from curate.store.lines import TORN_REASON, JournalProblem, line_problem, record_line, validation_message
from curate.store.names import check_annotator_name
from curate.store.snippets import SnippetIndex, id_hash

# Old names, kept until every caller uses the public ones above.
from curate.store.files import FILE_MODE as _FILE_MODE  # noqa: E402
from curate.store.files import file_signature as _file_signature  # noqa: E402
from curate.store.index import IN_PROGRESS, NO_RECORD, STATUS_CODES  # noqa: E402

__all__ = [
    "COMPACT_MIN_BYTES",
    "COMPACT_RATIO",
    "CONFIG_NAME",
    "ENTITY_MODEL_NAME",
    "FILE_MODE",
    "GOLD_NAME",
    "INDEX_DIR",
    "LEARNED_NAME",
    "NER_MODEL_NAME",
    "SNIPPETS_NAME",
    "STORY_MODEL_NAME",
    "TORN_REASON",
    "Corpus",
    "CorpusLayout",
    "GoldStore",
    "Journal",
    "JournalLocked",
    "JournalProblem",
    "SaveFailed",
    "SnippetIndex",
    "StoreError",
    "atomic_write_bytes",
    "check_annotator_name",
    "default_file_mode",
    "error_reason",
    "file_signature",
    "fsync_directory",
    "id_hash",
    "line_problem",
    "read_config",
    "record_line",
    "validation_message",
    "write_config",
]
