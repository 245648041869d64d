"""Story-start proposers over unit features: a hand-set default and a learned CRF.

Both give every unit a probability that a story starts there; a unit is a start when that
probability is at least 0.5. Unit 0 is never a start (the first story begins at 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from curate.suggest.features import Unit

# Log-odds contributions of each feature, set by hand from the cues editors use (a new
# headline-and-dateline block, a cut-off story before, a change of subject).
HAND_WEIGHTS: dict[str, float] = {
    "bias": -3.0,
    # layout: a headline-and-dateline block opens a story; the lines after it do not
    "next_dateline": 4.5,
    "headline": 0.8,
    "dateline": 3.5,
    "prev_headline": -4.0,
    "prev_dateline": -4.0,
    "prev_opening": -4.0,
    "boilerplate": -8.0,
    # the story before was cut off, or closed with a desk's contact line
    "prev_truncated": 5.0,
    "prev_contact": 3.6,
    # change of subject, on pages without dateline layout (magnitudes close to a logistic
    # fit on Choi's 3-11 set, rounded)
    "free_names_none_shared": 0.3,
    "free_names_shared": -2.0,
    "free_cohesion_prev": -2.0,
    "free_cohesion_gap": -5.5,
    "free_depth_z": 0.5,
    "free_depth_peak": 1.0,
    "free_dp_start": 2.75,
    "free_low_cohesion": 0.9,
    # a paragraph that is itself cut off after a finished one: a one-paragraph teaser
    "free_self_truncated": 3.5,
    # on a page whose stories are cut off, a start without a cut at it is less likely
    "free_uncut_on_cut_page": -2.0,
}


class StoryStartScorer(Protocol):
    name: str

    def probabilities(self, features: Sequence[dict[str, float]]) -> list[float]:
        """P(a story starts at unit i) for each unit of one text."""


class HandSetScorer:
    """The default: a logistic score with HAND_WEIGHTS."""

    name = "hand"

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(HAND_WEIGHTS if weights is None else weights)

    def probabilities(self, features: Sequence[dict[str, float]]) -> list[float]:
        result = []
        for row in features:
            row = with_products(row)
            score = sum(weight * row.get(name, 0.0) for name, weight in self.weights.items())
            result.append(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, score)))))
        return result


START, CONTINUE = "S", "C"
TOPIC_FEATURES = ("self_truncated", "names_none_shared", "names_shared", "cohesion_prev", "cohesion_gap", "depth_z", "depth_peak", "depth_z_peak", "dp_start", "low_cohesion", "starts_lower", "uncut_on_cut_page")


def with_products(row: dict[str, float]) -> dict[str, float]:
    """The row plus products of features that matter together (a linear scorer cannot form them)."""
    extended = dict(row)
    extended["depth_z_peak"] = row.get("depth_z", 0.0) * row.get("depth_peak", 0.0)
    extended["low_cohesion"] = float(row.get("cohesion_prev", 0.0) < 0.05 and not row.get("boilerplate"))
    extended["uncut_on_cut_page"] = float(bool(row.get("cut_page")) and not row.get("prev_truncated") and not row.get("self_truncated"))
    # Topic-shift evidence counts only on pages without dateline layout (see features.layout_page).
    free = 1.0 - row.get("layout_page", 0.0)
    extended["free"] = free
    for name in TOPIC_FEATURES:
        extended[f"free_{name}"] = free * extended.get(name, 0.0)
    return extended


def _crf_items(features: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    return [{name: value for name, value in with_products(row).items() if value} for row in features]


class CrfScorer:
    """A linear-chain CRF (python-crfsuite) fitted on editors' story starts."""

    name = "crf"

    def __init__(self, model_path: Path) -> None:
        import pycrfsuite

        self.model_path = Path(model_path)
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(self.model_path))

    @staticmethod
    def fit(sequences: Sequence[Sequence[dict[str, float]]], labels: Sequence[Sequence[bool]], model_path: Path, c2: float = 0.1) -> "CrfScorer":
        import pycrfsuite

        trainer = pycrfsuite.Trainer(verbose=False)
        for features, starts in zip(sequences, labels):
            trainer.append(_crf_items(features), [START if start else CONTINUE for start in starts])
        trainer.set_params({"c1": 0.0, "c2": c2, "max_iterations": 200, "feature.possible_transitions": True})
        model_path.parent.mkdir(parents=True, exist_ok=True)
        trainer.train(str(model_path))
        return CrfScorer(model_path)

    def probabilities(self, features: Sequence[dict[str, float]]) -> list[float]:
        if not features:
            return []
        self._tagger.set(_crf_items(features))
        labels = self._tagger.labels()
        if START not in labels:
            return [0.0] * len(features)
        return [self._tagger.marginal(START, index) for index in range(len(features))]


def story_starts(units: Sequence[Unit], probabilities: Sequence[float], threshold: float = 0.5) -> list[int]:
    """Boundary offsets of the units whose probability reaches `threshold` (never the first unit)."""
    starts = []
    for index, (unit, probability) in enumerate(zip(units, probabilities)):
        if index > 0 and probability >= threshold and unit.boundary > 0:
            if not starts or unit.boundary > starts[-1]:
                starts.append(unit.boundary)
    return starts


def start_labels(units: Sequence[Unit], starts: set[int]) -> list[bool]:
    """Which units an annotation starts a story at (its story starts matched to unit boundaries)."""
    return [index > 0 and unit.boundary in starts for index, unit in enumerate(units)]
