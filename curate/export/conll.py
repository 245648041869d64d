"""CoNLL-2003 style NER: `TOKEN _ _ TAG` lines (IOB2), a blank line between sentences, `-DOCSTART-` per story.

The POS and chunk columns are placeholders (`_`), so readers that take the first and last
column and readers that take columns 0 and 3 both work. Written per split: `OUT/<split>.conll`.

Read back: every `-DOCSTART-` starts a document (a file without one is one document); the
document's text is its tokens joined by spaces, one sentence per line. Tags may be IOB2, IOB1,
BIOES or BILOU; the token is the first column and the tag the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.interchange import ImportedRecord
from curate.export.rows import StoryRow, entities_from_iob2, iob2_tags
from curate.model import Annotation, Snippet
from curate.text import TextModel

DOCSTART = "-DOCSTART- -X- -X- O"


def story_lines(story: StoryRow, tag_names: list[str], label_ids: dict[str, int]) -> list[str]:
    """The lines of one story: DOCSTART, blank, then sentences of `TOKEN _ _ TAG`."""
    text = story.text
    sentence_starts = set(TextModel(text).sentence_starts)
    tags = iob2_tags(story.tokens, story.entities, label_ids)
    lines = [DOCSTART, ""]
    for index, ((start, end), tag) in enumerate(zip(story.tokens, tags)):
        if index and start in sentence_starts:
            lines.append("")
        lines.append(f"{text[start:end]} _ _ {tag_names[tag]}")
    lines.append("")
    return lines


class Writer:
    def __init__(self, folder: Path, context) -> None:
        self.folder = folder
        self.tag_names = context.tag_names
        self.label_ids = {label: index for index, label in enumerate(context.labels)}
        self.handles: dict[str, object] = {}

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        handle = self.handles.get(split)
        if handle is None:
            from curate.export import safe_child

            handle = self.handles[split] = safe_child(self.folder, split, ".conll").open("w", encoding="utf-8", newline="\n")
        from curate.export import writing

        with writing(handle.name):
            for story in stories:
                handle.write("\n".join(story_lines(story, self.tag_names, self.label_ids)) + "\n")

    def finish(self) -> list[Path]:
        from curate.export import writing

        for handle in self.handles.values():
            with writing(handle.name):
                handle.close()
        return sorted(path for path in self.folder.iterdir() if path.is_file())


def _document(where: str, sentences: list[list[tuple[str, str]]]) -> ImportedRecord:
    lines = []
    tokens: list[tuple[int, int]] = []
    tags: list[str] = []
    position = 0
    for sentence in sentences:
        words = []
        for word, tag in sentence:
            if words:
                position += 1
            tokens.append((position, position + len(word)))
            tags.append(tag)
            words.append(word)
            position += len(word)
        lines.append(" ".join(words))
        position += 1  # the line break
    text = "\n".join(lines)
    return ImportedRecord(where, text=text, entities=entities_from_iob2(tags, tokens))


def read(path: Path) -> Iterator[ImportedRecord]:
    sentences: list[list[tuple[str, str]]] = []
    sentence: list[tuple[str, str]] = []
    start_line = 1
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as error:
                yield ImportedRecord(f"{path}:{number}", problem=f"not UTF-8 (byte {error.start})")
                return
            if line.startswith("-DOCSTART-"):
                if sentence:
                    sentences.append(sentence)
                if sentences:
                    yield _document(f"{path}:{start_line}", sentences)
                sentences, sentence, start_line = [], [], number
                continue
            if not line:
                if sentence:
                    sentences.append(sentence)
                    sentence = []
                continue
            columns = line.split()
            if len(columns) < 2:
                yield ImportedRecord(f"{path}:{number}", problem=f"expected a token and a tag, got {line[:40]!r}")
                return
            tag = columns[-1]
            if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIESLU"):
                yield ImportedRecord(f"{path}:{number}", problem=f"tag {tag!r} is not O or B-/I-/E-/S-/L-/U- LABEL")
                return
            sentence.append((columns[0], tag))
    if sentence:
        sentences.append(sentence)
    if sentences:
        yield _document(f"{path}:{start_line}", sentences)
