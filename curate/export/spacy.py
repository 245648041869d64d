"""spaCy DocBin files per split (`OUT/<split>.spacy`) for `spacy train`.

Each story becomes a Doc over curate's tokens whose `text` is exactly the story text: a gap
of one space is the token's trailing space, any other whitespace becomes a whitespace token,
as spaCy's own tokenizer makes them. Entities are the story's entities; `doc.user_data`
holds the story id, snippet id and `truncated`.
"""

from __future__ import annotations

from pathlib import Path

from curate.export import safe_child, writing
from curate.export.rows import StoryRow
from curate.model import Annotation, Snippet


def story_words(story: StoryRow) -> tuple[list[str], list[bool]]:
    """Words and trailing-space flags that rebuild the story text exactly."""
    text = story.text
    words: list[str] = []
    spaces: list[bool] = []
    for index, (start, end) in enumerate(story.tokens):
        words.append(text[start:end])
        following = story.tokens[index + 1][0] if index + 1 < len(story.tokens) else len(text)
        gap = text[end:following]
        if gap.startswith(" "):
            spaces.append(True)
            gap = gap[1:]
        else:
            spaces.append(False)
        if gap:
            words.append(gap)
            spaces.append(False)
    if story.tokens and story.tokens[0][0] > 0:
        words.insert(0, text[: story.tokens[0][0]])
        spaces.insert(0, False)
    return words, spaces


class Writer:
    def __init__(self, folder: Path, context) -> None:
        import spacy
        from spacy.tokens import DocBin

        self.folder = folder
        try:
            self.nlp = spacy.blank(context.config.language)
        except (ImportError, KeyError, ValueError):
            self.nlp = spacy.blank("xx")
        self.doc_bins: dict[str, DocBin] = {}
        self._doc_bin_type = DocBin

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        from spacy.tokens import Doc

        doc_bin = self.doc_bins.get(split)
        if doc_bin is None:
            doc_bin = self.doc_bins[split] = self._doc_bin_type(store_user_data=True)
        for story in stories:
            words, spaces = story_words(story)
            doc = Doc(self.nlp.vocab, words=words, spaces=spaces)
            spans = []
            for start, end, label in story.entities:
                span = doc.char_span(start, end, label=label)
                if span is None:  # cannot happen for token-aligned entities; never drop silently
                    raise ValueError(f"{story.id}: entity [{start},{end}) is not on spaCy token edges")
                spans.append(span)
            doc.ents = spans
            doc.user_data["id"] = story.id
            doc.user_data["snippet_id"] = story.snippet_id
            doc.user_data["truncated"] = story.truncated
            doc_bin.add(doc)

    def finish(self) -> list[Path]:
        for split, doc_bin in self.doc_bins.items():
            path = safe_child(self.folder, split, ".spacy")
            with writing(path):
                doc_bin.to_disk(path)
        return sorted(path for path in self.folder.iterdir() if path.is_file())
