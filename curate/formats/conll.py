"""CoNLL-2003 style NER: `TOKEN _ _ TAG` lines (IOB2), a blank line between sentences, `-DOCSTART-` per story.

The POS and chunk columns are placeholders (`_`), so readers that take the first and last
column and readers that take columns 0 and 3 both work. Written per split: `OUT/<split>.conll`.

Read back: a document per `-DOCSTART-` (`doc_per="docstart"`, the default for a file that has
such lines), per sentence (`"sentence"`, the default for a file without them, such as WNUT's
tweets), or per run of sentences between two or more blank lines (`"blank-lines"`). The
document's text is its tokens joined by spaces, one sentence per line. Tags may be IOB2, IOB1,
BIOES or BILOU; the token is the first column and the tag the last. An entity never runs
across a sentence break (IOB1's `I-LOC` after a blank line starts a new one). A byte order
mark at the start of a line is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.export.rows import StoryRow, entities_from_iob2, iob2_tags
from curate.formats.base import Writer as BaseWriter
from curate.formats.base import safe_child, writing
from curate.formats.interchange import ImportedRecord, short
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


class Writer(BaseWriter):
    def __init__(self, folder: Path, context) -> None:
        super().__init__(folder, context)
        self.tag_names = context.tag_names
        self.label_ids = {label: index for index, label in enumerate(context.labels)}
        self.handles: dict[str, object] = {}

    def add(self, split: str, snippet: Snippet, record: Annotation, stories: list[StoryRow]) -> None:
        handle = self.handles.get(split)
        if handle is None:
            handle = self.handles[split] = safe_child(self.folder, split, ".conll").open("w", encoding="utf-8", newline="\n")
        with writing(handle.name):
            for story in stories:
                handle.write("\n".join(story_lines(story, self.tag_names, self.label_ids)) + "\n")

    def finish(self) -> list[Path]:
        for handle in self.handles.values():
            with writing(handle.name):
                handle.close()
        return self.written()


DOC_PER = ("docstart", "sentence", "blank-lines")


def _document(where: str, sentences: list[list[tuple[str, str, int]]]) -> ImportedRecord:
    lines = []
    entities: list[tuple[int, int, str]] = []
    token_lines: list[tuple[int, int]] = []
    position = 0
    for sentence in sentences:
        tokens: list[tuple[int, int]] = []
        words = []
        for word, _, number in sentence:
            if words:
                position += 1
            tokens.append((position, position + len(word)))
            token_lines.append((position, number))
            words.append(word)
            position += len(word)
        entities += entities_from_iob2([tag for _, tag, _ in sentence], tokens)  # per sentence: none runs across a break
        lines.append(" ".join(words))
        position += 1  # the line break
    text = "\n".join(lines)
    return ImportedRecord(where, text=text, entities=entities, token_lines=token_lines)


def _has_docstart(path: Path) -> bool:
    with path.open("rb") as handle:
        return any(raw.lstrip(b"\xef\xbb\xbf \t").startswith(b"-DOCSTART-") for raw in handle)


def read(path: Path, *, doc_per: str | None = None, **_options) -> Iterator[ImportedRecord]:
    """Documents of a CoNLL file; `doc_per` is one of DOC_PER, or None to choose by the file."""
    if doc_per is None:
        doc_per = "docstart" if _has_docstart(path) else "sentence"
    if doc_per not in DOC_PER:
        yield ImportedRecord(f"{path}:1", problem=f"--doc-per {doc_per!r}: choose one of {', '.join(DOC_PER)}")
        return
    sentences: list[list[tuple[str, str, int]]] = []
    sentence: list[tuple[str, str, int]] = []  # token, tag, line
    start_line: int | None = None  # the document's -DOCSTART- line, else its first token's
    blank_run = 0
    broken = False  # a bad line was reported: the document holding it is left out

    def finish() -> Iterator[ImportedRecord]:
        nonlocal sentences, start_line, broken
        if sentences and not broken:
            yield _document(f"{path}:{start_line}", sentences)
        sentences, start_line, broken = [], None, False

    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").lstrip("\ufeff").strip()
            except UnicodeDecodeError as error:
                yield ImportedRecord(f"{path}:{number}", problem=f"not UTF-8 (byte {error.start})")
                broken = True
                continue
            if line.startswith("-DOCSTART-") or not line:
                if sentence:
                    sentences.append(sentence)
                    sentence = []
                blank_run = blank_run + 1 if not line else 0
                if line or doc_per == "sentence" or (doc_per == "blank-lines" and blank_run == 2):  # -DOCSTART- always ends one
                    yield from finish()
                if line:
                    start_line = number
                continue
            blank_run = 0
            columns = line.split()
            if len(columns) < 2:
                yield ImportedRecord(f"{path}:{number}", problem=f"expected a token and a tag, got {short(line)}")
                broken = True
                continue
            tag = columns[-1]
            if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIESLU"):
                yield ImportedRecord(f"{path}:{number}", problem=f"tag {short(tag)} is not O or B-/I-/E-/S-/L-/U- LABEL")
                broken = True
                continue
            if start_line is None:
                start_line = number
            sentence.append((columns[0], tag, number))
    if sentence:
        sentences.append(sentence)
    yield from finish()
