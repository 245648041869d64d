"""`curate stats`: what a corpus holds, from the indexes; also each annotator's records whose snippet text changed since."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.adjudicate import contradicted_gold
from curate.model import text_sha256
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
    characters = corpus.characters
    annotators = []
    texts = _SnippetTexts(corpus)
    for name in corpus.annotators():
        with corpus.journal(name) as journal:
            counts = journal.counts()
            changed = [record.snippet_id for position, record in journal.items() if texts.changed(position, record)]
            annotators.append(AnnotatorStats(name, counts["done"], counts["skipped"], counts["flagged"], counts["in_progress"], journal.problems, changed))
    gold = corpus.gold()
    suggestions, suggestion_problems = 0, []
    if corpus.suggestions_path.exists():
        with corpus.suggestions() as journal:
            suggestions, suggestion_problems = len(journal), journal.problems
    contradicted = contradicted_gold(corpus) if len(gold) else []
    return CorpusStats(len(corpus), characters, annotators, len(gold), gold.problems, suggestions, suggestion_problems, contradicted)


class _SnippetTexts:
    """Length and (computed once, when asked) sha256 of every snippet's text, read in one pass when first needed."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.texts: list[str] | None = None
        self.digests: dict[int, str] = {}

    def changed(self, position: int, record) -> bool:
        if self.texts is None:
            self.texts = [snippet.text for snippet in self.corpus.iter_snippets()]
        text = self.texts[position]
        if record.text_length != len(text):
            return True
        if record.text_sha256 is None:
            return False
        digest = self.digests.get(position)
        if digest is None:
            digest = self.digests[position] = text_sha256(text)
        return record.text_sha256 != digest
