"""spaCy DocBin files per split (`OUT/<split>.spacy`) for `spacy train`.

Each story becomes a Doc whose `text` is exactly the story text, tokenized by spaCy's own
tokenizer for the corpus language: `spacy train` and `spacy debug data` tokenize the text again
with that tokenizer and compare, so Docs on any other tokens show up as misaligned tokens (on
curate's tokens the demo had 17, at "US$", "km/h", "d'Ivoire"...). An entity edge that falls
inside one of spaCy's tokens (curate's tokenizer cuts finer in places) is kept: that token is
split at the edge, and the entity is named in the export's notes, since spaCy's tokenizer will
not reproduce the cut. Entities are the story's entities, none dropped; `doc.user_data` holds
the story id, snippet id and `truncated`.
"""

from __future__ import annotations

from pathlib import Path

from curate.export.rows import StoryRow
from curate.formats.base import Writer as BaseWriter
from curate.formats.base import safe_child, writing
from curate.model import Annotation, Snippet


def story_doc(nlp, story: StoryRow) -> tuple[object, list[str]]:
    """The story as a Doc on spaCy's tokens with its entities, and a note per entity whose
    edge had to split one of spaCy's tokens."""
    from spacy.tokens import Doc

    doc = nlp.make_doc(story.text)
    edges = {token.idx for token in doc} | {token.idx + len(token) for token in doc}
    cuts = sorted({edge for start, end, _ in story.entities for edge in (start, end)} - edges)
    notes = []
    if cuts:
        words, spaces = split_tokens(doc, cuts)
        cut_set = set(cuts)
        for start, end, label in story.entities:
            for edge in (start, end):
                if edge in cut_set:
                    token = next(token.text for token in doc if token.idx < edge < token.idx + len(token))
                    notes.append(
                        f"{story.id}: entity {story.text[start:end]!r} [{start},{end}) {label} cuts spaCy's token {token!r}; "
                        "the Doc splits it there, which spaCy's own tokenizer will not (a misaligned token in `spacy debug data`)"
                    )
                    break
        doc = Doc(nlp.vocab, words=words, spaces=spaces)
    spans = []
    for start, end, label in story.entities:
        span = doc.char_span(start, end, label=label)
        if span is None:  # cannot happen: every entity edge is a token edge now
            raise ValueError(f"{story.id}: entity [{start},{end}) is not on token edges")
        spans.append(span)
    doc.ents = spans
    return doc, notes


def split_tokens(doc, cuts: list[int]) -> tuple[list[str], list[bool]]:
    """Words and trailing-space flags of `doc` with its tokens also split at the offsets `cuts`."""
    words: list[str] = []
    spaces: list[bool] = []
    index = 0
    for token in doc:
        start, end = token.idx, token.idx + len(token)
        while index < len(cuts) and cuts[index] <= start:
            index += 1
        position = start
        while index < len(cuts) and cuts[index] < end:
            words.append(token.text[position - start : cuts[index] - start])
            spaces.append(False)
            position = cuts[index]
            index += 1
        words.append(token.text[position - start :])
        spaces.append(bool(token.whitespace_))
    return words, spaces


class Writer(BaseWriter):
    def __init__(self, folder: Path, context) -> None:
        import spacy
        from spacy.tokens import DocBin

        super().__init__(folder, context)
        try:
            self.nlp = spacy.blank(context.config.language)
        except (ImportError, KeyError, ValueError):
            self.nlp = spacy.blank("xx")
        self.doc_bins: dict[str, DocBin] = {}  # notes: entities whose edges split one of spaCy's tokens
        self._doc_bin_type = DocBin

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        doc_bin = self.doc_bins.get(split)
        if doc_bin is None:
            doc_bin = self.doc_bins[split] = self._doc_bin_type(store_user_data=True)
        for story in stories:
            doc, notes = story_doc(self.nlp, story)
            self.notes += notes
            doc.user_data["id"] = story.id
            doc.user_data["snippet_id"] = story.snippet_id
            doc.user_data["truncated"] = story.truncated
            doc_bin.add(doc)

    def finish(self) -> list[Path]:
        for split, doc_bin in self.doc_bins.items():
            path = safe_child(self.folder, split, ".spacy")
            with writing(path):
                doc_bin.to_disk(path)
        return self.written()
