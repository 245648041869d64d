"""What every format writer is told about one export, and the counts it gathers on the way."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from pathlib import Path

import numpy as np

from curate.export.rows import StoryBatch, StoryRow, iob2_names
from curate.model import Annotation, CorpusConfig


@dataclass
class ExportCounts:
    """Rows per split and entity mentions per split and label (of the exported story text)."""

    snippets: Counter = field(default_factory=Counter)
    stories: Counter = field(default_factory=Counter)
    truncated: Counter = field(default_factory=Counter)
    boilerplate: Counter = field(default_factory=Counter)
    entities: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    sources: Counter = field(default_factory=Counter)

    def add(self, split: str, record: Annotation, stories: list[StoryRow]) -> None:
        self.snippets[split] += 1
        self.stories[split] += len(stories)
        self.truncated[split] += sum(story.truncated for story in stories)
        self.boilerplate[split] += len(record.boilerplate)
        for story in stories:
            for _, _, label in story.entities:
                self.entities[split][label] += 1
        for source in getattr(record, "sources", None) or [record.annotator]:
            self.sources[source] += 1

    def add_batch(self, splits: list[str], batch: StoryBatch) -> None:
        """:meth:`add` of every pair of `batch` (its split in `splits`) from the batch's columns,
        added up per split with numpy."""
        names = list(dict.fromkeys(splits))
        number_of = {name: number for number, name in enumerate(names)}
        split_of_pair = np.fromiter(map(number_of.__getitem__, splits), dtype=np.int64, count=len(splits))
        split_of_story = np.repeat(split_of_pair, np.diff(batch.story_bounds))
        records = [record for _, record in batch.pairs]
        stories = np.bincount(split_of_story, minlength=len(names)).tolist()
        truncated = np.bincount(split_of_story, weights=np.asarray(batch.truncated, dtype=np.int64), minlength=len(names)).astype(np.int64).tolist()
        boilerplate = np.bincount(split_of_pair, weights=np.fromiter(map(len, map(_BOILERPLATE, records)), dtype=np.int64, count=len(records)), minlength=len(names)).astype(np.int64).tolist()
        split_of_entity = np.repeat(split_of_story, np.diff(batch.entity_bounds)).tolist()
        for number, name in enumerate(names):
            self.snippets[name] += splits.count(name)
            self.stories[name] += stories[number]
            self.truncated[name] += truncated[number]
            self.boilerplate[name] += boilerplate[number]
        for (number, label), count in Counter(zip(split_of_entity, batch.labels)).items():
            self.entities[names[number]][label] += count
        self.sources.update(chain.from_iterable(getattr(record, "sources", None) or [record.annotator] for record in records))


_BOILERPLATE = attrgetter("boilerplate")


@dataclass
class ExportContext:
    config: CorpusConfig
    corpus_path: Path
    source: str
    splits: dict[str, float]
    seed: int = 0
    counts: ExportCounts = field(default_factory=ExportCounts)
    agreement: dict | None = None
    adjudicators: Counter = field(default_factory=Counter)
    dedup: dict | None = None
    """With near-duplicate grouping on: threshold, clusters (of stories) and pages grouped."""

    @property
    def labels(self) -> list[str]:
        return self.config.label_names

    @property
    def tag_names(self) -> list[str]:
        return iob2_names(self.labels)

    @property
    def split_names(self) -> list[str]:
        return list(self.splits)

    def empty_splits(self) -> list[str]:
        """Splits asked for with a fraction above 0 that no exported snippet fell in."""
        return [name for name, fraction in self.splits.items() if fraction > 0 and not self.counts.snippets.get(name)]
