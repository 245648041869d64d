"""`--entities gliner:ID_OR_PATH`: GLiNER zero-shot NER prompted with the corpus's labels.

Each corpus label is asked for by a short description ("person" for PER, see PROMPTS; a label
not listed is asked for by its name in lower case), and `--label-map 'company=ORG'` adds a
prompt of one's own for a corpus label (`ORG=` drops the label's own prompt). Found spans come
back in corpus labels, so the label map that follows keeps them as they are.

GLiNER reads at most `max_len` words (its config) and cuts the rest, so a longer text is read
in windows of words that overlap by an eighth; each window keeps the entities that start in
the part of it it owns (up to the middle of each overlap).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from curate.suggest.backends import Span, SpanBackend, device_name, first_line, require
from curate.suggest.entities import LABEL_CANDIDATES, ModelError

# GLiNER's own word splitter ("whitespace"), so windows count words as the model does.
WORD = re.compile(r"\w+(?:[-_]\w+)*|\S")
THRESHOLD = 0.5  # GLiNER's own default
BATCH_SIZE = 8
# Words per window at most, whatever the model's max_len says: the label prompt and sub-words share the encoder's 512 tokens.
LONGEST_WINDOW = 256

PROMPTS = {
    "PER": "person",
    "PERSON": "person",
    "ORG": "organization",
    "ORGANIZATION": "organization",
    "LOC": "location",
    "LOCATION": "location",
    "GPE": "country, city or state",
    "NORP": "nationality, religious or political group",
    "FAC": "building, airport, highway or bridge",
    "MISC": "other named entity",
    "EVENT": "named event",
    "PRODUCT": "product",
    "WORK_OF_ART": "work of art",
    "LAW": "law",
    "LANGUAGE": "language",
    "DATE": "date",
    "TIME": "time",
    "MONEY": "monetary value",
    "PERCENT": "percentage",
    "QUANTITY": "quantity",
    "CARDINAL": "number",
    "ORDINAL": "ordinal number",
}


def label_prompts(label_map: dict[str, str]) -> dict[str, str]:
    """Prompt -> corpus label, from the suggest run's label map (model label -> corpus label).

    A corpus label maps to itself in that map unless `--label-map LABEL=` dropped it; it is
    asked for by its description. A key that is neither a corpus label nor a spaCy label the
    map derives by itself was given in `--label-map` and is a prompt of its own.
    """
    prompts: dict[str, str] = {}
    for model_label, corpus_label in label_map.items():
        if model_label == corpus_label:
            prompts.setdefault(PROMPTS.get(corpus_label, corpus_label.lower().replace("_", " ")), corpus_label)
    for model_label, corpus_label in label_map.items():
        if model_label != corpus_label and model_label not in LABEL_CANDIDATES:
            prompts.setdefault(model_label, corpus_label)
    return prompts


def windows(text: str, size: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, owned start, owned end) in characters of each window of `size` words."""
    words = [match.span() for match in WORD.finditer(text)]
    if not words:  # nothing to ask about
        return []
    if len(words) <= size:
        return [(0, len(text), 0, len(text))]
    step = max(1, size - overlap)
    starts = list(range(0, len(words) - overlap, step))
    found = []
    for number, first in enumerate(starts):
        last = min(first + size, len(words)) - 1
        owned_first = first + overlap // 2 if number > 0 else 0
        owned_end = words[first + step + overlap // 2][0] if number + 1 < len(starts) else len(text)
        found.append((words[first][0], words[last][1], words[owned_first][0] if number > 0 else 0, owned_end))
    return found


class GlinerModel(SpanBackend):
    def __init__(self, model: Any, prompts: dict[str, str], *, threshold: float = THRESHOLD, window: int | None = None, overlap: int | None = None, batch_size: int = BATCH_SIZE) -> None:
        if not prompts:
            raise ModelError("--entities gliner:...: no corpus label is left to ask for (every one dropped by --label-map)")
        self.model = model
        self.prompts = prompts
        self.threshold = threshold
        self.window = window or max(8, min(int(getattr(model.config, "max_len", LONGEST_WINDOW)), LONGEST_WINDOW))
        self.overlap = overlap if overlap is not None else self.window // 8
        self.batch_size = batch_size

    def model_labels(self) -> list[str]:
        return list(dict.fromkeys(self.prompts.values()))  # corpus labels already

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        pieces: list[tuple[int, int, int, int]] = []  # text index, window start, owned start, owned end
        chunks: list[str] = []
        for index, text in enumerate(texts):
            for start, end, owned_start, owned_end in windows(text, self.window, self.overlap):
                pieces.append((index, start, owned_start, owned_end))
                chunks.append(text[start:end])
        found: list[list[Span]] = [[] for _ in texts]
        if not chunks:
            return found
        predicted = self.model.inference(chunks, list(self.prompts), flat_ner=True, threshold=self.threshold, batch_size=self.batch_size)
        for (index, offset, owned_start, owned_end), entities in zip(pieces, predicted):
            for entity in entities:
                start, end = offset + entity["start"], offset + entity["end"]
                if owned_start <= start < owned_end and entity["label"] in self.prompts:
                    found[index].append((start, end, self.prompts[entity["label"]]))
        return [sorted(spans) for spans in found]


def load(id_or_path: str, label_map: dict[str, str]) -> GlinerModel:
    torch, transformers, gliner = require("gliner:", "torch", "transformers", "gliner")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():  # the Hub client's deprecation notes for arguments GLiNER passes are not the user's business
            warnings.simplefilter("ignore")
            model = gliner.GLiNER.from_pretrained(id_or_path, map_location=device_name(torch))
    except Exception as error:  # whatever the library raises (missing files, a wrong kind of model, no network): one line
        raise ModelError(f"--entities gliner:{id_or_path}: cannot load it: {first_line(error)}") from None
    model.eval()
    return GlinerModel(model, label_prompts(label_map))
