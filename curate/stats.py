"""`curate stats`: what a corpus holds, from the indexes; also each annotator's records whose snippet text changed since.

Nothing here reads a journal record: counts, damaged lines and the text each record was saved
for (its length and text_sha256) come from the journal indexes, and each snippet text's length
and sha256 from the snippet index's text facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.adjudicate import contradicted_gold
from curate.store import Corpus, JournalProblem


@dataclass
class AnnotatorStats:
    name: str
    done: int
    skipped: int
    flagged: int
    in_progress: int
    problems: list[JournalProblem]
    changed: list[str] = field(default_factory=list)
    """Ids of snippets whose text changed after this annotator's record was saved (length or text_sha256
    differs); agreement and export leave those records out."""


@dataclass
class CorpusStats:
    snippets: int
    characters: int
    annotators: list[AnnotatorStats]
    gold: int
    gold_problems: list[JournalProblem]
    suggestions: int
    suggestion_problems: list[JournalProblem] = field(default_factory=list)
    # (snippet id, annotator): done records saved after the gold that say otherwise.
    contradicted_gold: list[tuple[str, str]] = field(default_factory=list)


def corpus_stats(corpus: Corpus) -> CorpusStats:
    """Counts per annotator and status, gold, suggestions and damaged lines."""
    corpus.text_facts()  # first: a corpus opened with index_later and no .curate/ reads ids and texts in one pass
    characters = corpus.characters
    annotators = []
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            counts = journal.counts()
            changed = [corpus.snippet_id(position) for position in journal.text_changed_positions().tolist()]
            annotators.append(AnnotatorStats(name, counts["done"], counts["skipped"], counts["flagged"], counts["in_progress"], journal.problems, changed))
    gold = corpus.gold()
    suggestions, suggestion_problems = 0, []
    if corpus.suggestions_path.exists():
        with corpus.suggestions() as journal:
            suggestions, suggestion_problems = len(journal), journal.problems
    contradicted = contradicted_gold(corpus) if len(gold) else []
    return CorpusStats(len(corpus), characters, annotators, len(gold), gold.problems, suggestions, suggestion_problems, contradicted)

