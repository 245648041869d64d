"""`--entities hf:ID_OR_PATH`: a Hugging Face token-classification model, used directly.

Texts are cut into windows of the model's length that overlap by a quarter (the tokenizer's
`stride`), so a page longer than the model reads is still read whole; a word seen in two
windows keeps the prediction from the window where it sits farther from an edge. Each word
(the tokenizer's own word boundaries) takes the label of its first sub-token, and words are
joined into entities as the transformers pipeline joins them with aggregation "first": a word
tagged I-X (or X without a prefix) after a word of type X continues it, B-X starts a new one.
Offsets are characters of the text given, so curate snaps them to its own tokens afterwards.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from curate.suggest.backends import Span, SpanBackend, device_name, first_line, require
from curate.suggest.entities import ModelError

# Windows are never longer than this many tokens, whatever the tokenizer claims (some say 10**30).
LONGEST_WINDOW = 512
# Windows (not texts) per forward pass.
BATCH_SIZE = 16


class Word:
    __slots__ = ("start", "end", "label", "centrality")

    def __init__(self, start: int, end: int, label: str, centrality: int) -> None:
        self.start, self.end, self.label, self.centrality = start, end, label, centrality


class HfTokenClassifier(SpanBackend):
    def __init__(self, model: Any, tokenizer: Any, torch: Any, *, device: str = "cpu", max_length: int | None = None, stride: int | None = None, batch_size: int = BATCH_SIZE) -> None:
        if not tokenizer.is_fast:
            raise ModelError("--entities hf:...: the model has no fast tokenizer, and character offsets need one")
        self.torch = torch
        self.device = device
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.labels = {int(index): label for index, label in model.config.id2label.items()}
        self.max_length = max_length or window_length(tokenizer, model.config)
        specials = tokenizer.num_special_tokens_to_add(pair=False)
        self.stride = stride if stride is not None else max(0, (self.max_length - specials) // 4)
        self.batch_size = batch_size

    def model_labels(self) -> list[str]:
        kinds = [split_tag(label)[1] for _, label in sorted(self.labels.items())]
        return [kind for index, kind in enumerate(kinds) if kind and kind not in kinds[:index]]

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        label_ids = self._forward(encoded)
        samples = encoded["overflow_to_sample_mapping"]
        offsets = encoded["offset_mapping"]
        words: list[list[Word]] = [[] for _ in texts]
        for window, sample in enumerate(samples):
            words[sample].extend(self._window_words(encoded.word_ids(window), offsets[window], label_ids[window]))
        return [group_words(merge_windows(found)) for found in words]

    def _forward(self, encoded: Any) -> list[list[int]]:
        """The predicted label id of every token of every window; windows of like length share a
        forward pass, padded only to the longest of them."""
        names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in encoded]
        lengths = [len(ids) for ids in encoded["input_ids"]]
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        rows: list[list[int]] = [[] for _ in lengths]
        left = self.tokenizer.padding_side == "left"
        with self.torch.inference_mode():
            for first in range(0, len(order), self.batch_size):
                chosen = order[first : first + self.batch_size]
                padded = self.tokenizer.pad({name: [encoded[name][index] for index in chosen] for name in names}, return_tensors="pt")
                predicted = self.model(**{name: padded[name].to(self.device) for name in names}).logits.argmax(-1).tolist()
                for index, row in zip(chosen, predicted):
                    rows[index] = row[len(row) - lengths[index] :] if left else row[: lengths[index]]
        return rows

    def _window_words(self, word_ids: list[int | None], offsets: list[list[int]], label_ids: list[int]) -> list[Word]:
        """The words of one window, each labelled by its first sub-token, with how far that sits from the window's edges."""
        positions = [position for position, word in enumerate(word_ids) if word is not None]
        if not positions:
            return []
        first, last = positions[0], positions[-1]
        found: list[Word] = []
        previous: int | None = None
        for position in positions:
            start, end = offsets[position]
            if word_ids[position] == previous and found:
                found[-1].end = max(found[-1].end, end)
                continue
            previous = word_ids[position]
            found.append(Word(start, end, self.labels.get(label_ids[position], "O"), min(position - first, last - position)))
        return found


def window_length(tokenizer: Any, config: Any) -> int:
    """Tokens in one window: the tokenizer's and the model's limits, at most LONGEST_WINDOW."""
    limits = [LONGEST_WINDOW]
    if isinstance(tokenizer.model_max_length, int) and tokenizer.model_max_length > 0:
        limits.append(tokenizer.model_max_length)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


def merge_windows(words: list[Word]) -> list[Word]:
    """One prediction per stretch of text: where windows overlap, the word farther from its window's
    edge wins. A word of no characters is left out (it could only make an empty entity)."""
    kept: list[Word] = []
    # The kept words never overlap, so sorted by start they are sorted by end too, and a word
    # can only overlap the kept word just before its start or the one just after (a bisection
    # each: a 50,000-character page took minutes comparing every word with every kept one).
    starts: list[int] = []
    ends: list[int] = []
    for word in sorted((word for word in words if word.end > word.start), key=lambda word: (-word.centrality, word.start)):
        index = bisect_right(starts, word.start)
        if index > 0 and starts[index - 1] < word.end and ends[index - 1] > word.start:
            continue
        if index < len(starts) and starts[index] < word.end:
            continue
        starts.insert(index, word.start)
        ends.insert(index, word.end)
        kept.append(word)
    return sorted(kept, key=lambda word: word.start)


def split_tag(label: str) -> tuple[str, str]:
    """("B" or "I", type) of a tag: B-/S-/U- begin, I-/E-/L- continue, a bare type continues, "O" is outside."""
    if label == "O":
        return "O", ""
    head, dash, tail = label.partition("-")
    if dash and head in ("B", "S", "U"):
        return "B", tail
    if dash and head in ("I", "E", "L"):
        return "I", tail
    return "I", label


def group_words(words: list[Word]) -> list[Span]:
    """Entities from labelled words, joined as the transformers pipeline joins them."""
    spans: list[list[Any]] = []
    open_type = ""
    for word in words:
        position, kind = split_tag(word.label)
        if position == "O":
            open_type = ""
        elif position == "I" and kind == open_type:
            spans[-1][1] = word.end
        else:
            spans.append([word.start, word.end, kind])
            open_type = kind
    return [(start, end, kind) for start, end, kind in spans]


def load(id_or_path: str) -> HfTokenClassifier:
    torch, transformers = require("hf:", "torch", "transformers")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(id_or_path, use_fast=True)
        model = transformers.AutoModelForTokenClassification.from_pretrained(id_or_path)
    except Exception as error:  # whatever the library raises (missing files, a wrong kind of model, no network): one line
        raise ModelError(f"--entities hf:{id_or_path}: cannot load it: {first_line(error)}") from None
    return HfTokenClassifier(model, tokenizer, torch, device=device_name(torch))
