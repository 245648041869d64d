"""One snippet's suggestion from its text: boilerplate, entities, story starts, truncation."""

from __future__ import annotations

from curate.model import Annotation, BoilerplateRange, Entity, Story, text_sha256, utc_now
from curate.suggest.boilerplate import boilerplate_ranges
from curate.suggest.boundaries import HandSetScorer, StoryStartScorer, story_starts
from curate.suggest.features import unit_features, units_of
from curate.suggest.truncation import is_truncated
from curate.text import TextModel


def stories_from_starts(model: TextModel, starts: list[int], boilerplate: list[BoilerplateRange] = ()) -> list[Story]:
    """Contiguous stories cut at `starts`, each marked truncated when it ends mid-sentence."""
    cuts = [0, *sorted(set(start for start in starts if 0 < start < len(model.text))), len(model.text)]
    return [
        Story(start=start, end=end, truncated=is_truncated(model, start, end, boilerplate, ends_text=end == cuts[-1]))
        for start, end in zip(cuts, cuts[1:])
    ]


def inside_stories(items: list, stories: list[Story]) -> list:
    """Keep the ranges that lie inside one story (those crossing a story start are dropped)."""
    starts = [story.start for story in stories[1:]]
    return [item for item in items if not any(item.start < start < item.end for start in starts)]


def propose_annotation(
    snippet_id: str,
    model: TextModel,
    entities: list[Entity],
    *,
    annotator: str,
    scorer: StoryStartScorer | None = None,
    boilerplate_kinds: list[str] | None = None,
    find_boundaries: bool = True,
) -> Annotation:
    """The suggestion record for one snippet (status None, as machine proposals are)."""
    boilerplate = boilerplate_ranges(model, boilerplate_kinds)
    starts: list[int] = []
    if find_boundaries:
        units = units_of(model)
        features = unit_features(model, units, entities, boilerplate)
        starts = story_starts(units, (scorer or HandSetScorer()).probabilities(features))
    stories = stories_from_starts(model, starts, boilerplate)
    return Annotation(
        snippet_id=snippet_id,
        annotator=annotator,
        text_sha256=text_sha256(model.text),
        stories=stories,
        boilerplate=inside_stories(boilerplate, stories),
        entities=inside_stories(entities, stories),
        status=None,
        updated_at=utc_now(),
    )
