"""The corpus folder of docs/data-contract.md: config, snippets with a byte-offset index, journals, gold.

This module is the store's only public face: import from ``curate.store``, never from its
modules. What each holds, and why:

- :mod:`~curate.store.layout`: every path of the corpus folder (:class:`CorpusLayout`, and
  the folder's tree in its docstring); nothing outside the store spells a path of it.
- :mod:`~curate.store.corpus`: :class:`Corpus`, an opened folder; snippets are read lazily
  through the byte-offset index of :mod:`~curate.store.snippets` (:class:`SnippetIndex`).
- :mod:`~curate.store.journal`: :class:`Journal`, an annotator's append-only journal (or
  suggestions.jsonl); its statuses are asked by name (``status_mask``,
  ``positions_with_status``, ``status_of``, ``counts``). Its derived index is
  :mod:`~curate.store.index`; reading lines into it is :mod:`~curate.store.scan`; its file
  handles and all-or-nothing appends are :mod:`~curate.store.journalfile`. Long index-building
  passes over a file run on two cores through :mod:`~curate.store.halves` (a forked child
  reads the second half).
- :mod:`~curate.store.assignments`: :class:`Assignment`, assignments.jsonl (who annotates
  which snippet), read with file:line errors and rewritten atomically.
- :mod:`~curate.store.gold`: :class:`GoldStore`, gold.jsonl rewritten atomically under a lock.
- :mod:`~curate.store.gitignore`: the folder's .gitignore (:func:`ensure_gitignore`); the
  three-way merges `curate sync` uses are :mod:`curate.store.merge` (pure, bytes in and out).
- :mod:`~curate.store.files`: atomic rewrites, fsync, the mode of new files
  (:data:`FILE_MODE`), :func:`file_signature`.
- :mod:`~curate.store.config`: corpus.toml (:func:`read_config`, :func:`write_config`);
  :mod:`~curate.store.lines`: record lines and why a line is damaged;
  :mod:`~curate.store.names`: annotator names; :mod:`~curate.store.errors`:
  :class:`StoreError` and its kinds, :func:`error_reason`.

Names that replaced the old single module's: ``FILE_MODE`` (was ``_FILE_MODE``),
``file_signature`` (was ``_file_signature``); corpus paths come from ``CorpusLayout``
(``corpus.layout`` or ``CorpusLayout(folder)``: ``.config``, ``.snippets``, ``.gold``,
``.suggestions``, ``.annotations``, ``.journal(name)``, ``.models``, ``.review_journal(name)``,
``.journal_indexes``, ``CorpusLayout.is_gold(path)``) instead of ``CONFIG_NAME``,
``SNIPPETS_NAME``, ``GOLD_NAME`` and ``INDEX_DIR``; a journal's statuses come from
``Journal.status_mask(*statuses, unrecorded=False)``, ``positions_with_status(...)``,
``status_of(position)`` and ``counts()`` instead of ``STATUS_CODES``, ``NO_RECORD`` and
``IN_PROGRESS`` on ``Journal.status``, and a record's raw line from ``Journal.raw_line(position)``.
"""

from curate.store.assignments import Assignment, read_assignment, write_assignment
from curate.store.config import read_config, write_config
from curate.store.corpus import Corpus
from curate.store.errors import JournalLocked, SaveFailed, StoreError, error_reason
from curate.store.files import FILE_MODE, atomic_write_bytes, file_signature, fsync_directory, write_chunks
from curate.store.gitignore import add_missing_lines, ensure_gitignore
from curate.store.gold import GoldLines, GoldStore, QuickGold, quick_gold
from curate.store.halves import abandon_child, can_split, can_work_beside, child_result, fork_child
from curate.store.journal import Journal
from curate.store.layout import ENTITY_MODEL_NAME, LEARNED_NAME, NER_MODEL_NAME, STORY_MODEL_NAME, CorpusLayout
from curate.store.lines import JournalProblem, SnippetLine, line_problem, quick_snippet, validation_message
from curate.store.merge import MergeRefused, journal_lines, merge_gold, merge_gold_chunks, merge_journal, merge_journal_chunks
from curate.store.names import check_annotator_name
from curate.store.scan import unreferenced_garbage
from curate.store.snippets import SnippetIndex, id_hash

__all__ = [
    # the corpus folder and what it holds
    "Corpus",
    "CorpusLayout",
    "GoldLines",
    "QuickGold",
    "quick_gold",
    "GoldStore",
    "Journal",
    "JournalProblem",
    "SnippetIndex",
    "id_hash",
    "read_config",
    "write_config",
    "check_annotator_name",
    # who annotates which snippet (assignments.jsonl)
    "Assignment",
    "read_assignment",
    "write_assignment",
    # names of the files under models/ (their paths: CorpusLayout(root).models / NAME)
    "ENTITY_MODEL_NAME",
    "LEARNED_NAME",
    "NER_MODEL_NAME",
    "STORY_MODEL_NAME",
    # errors and the reasons of damaged lines
    "JournalLocked",
    "SaveFailed",
    "StoreError",
    "error_reason",
    "line_problem",
    "validation_message",
    # reading a snippets.jsonl line fast (id and text; None: read it with Snippet)
    "SnippetLine",
    "quick_snippet",
    # writing files as the store does
    "FILE_MODE",
    "atomic_write_bytes",
    "write_chunks",
    "file_signature",
    "fsync_directory",
    # sharing the folder through git (`curate sync`)
    "ensure_gitignore",
    "add_missing_lines",
    "MergeRefused",
    "journal_lines",
    "merge_gold",
    "merge_gold_chunks",
    "merge_journal",
    "merge_journal_chunks",
    # long passes over records: no cycle collection inside
    "unreferenced_garbage",
    # work done beside by a forked child on the other core (any failure of it: None)
    "can_split",
    "can_work_beside",
    "fork_child",
    "child_result",
    "abandon_child",
]
