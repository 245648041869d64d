"""The dataset card (README.md) of an exported folder: YAML metadata the Hub and `datasets` read, and a body for people."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
from datasets import DatasetInfo, Features
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from curate.export.context import ExportContext

# The licence ids the Hugging Face Hub accepts in a card's `license:` field (its documented list).
HUB_LICENSES: tuple[str, ...] = (
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1",
    "lgpl-3.0", "isc", "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by", "odbl", "openrail++", "osl-3.0", "postgresql",
    "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "llama2", "gemma",
    "unknown", "other",
)
# Spellings seen in the wild that squash to something the ids themselves do not.
_LICENSE_ALIASES = {
    "apache": "apache-2.0",
    "cc0": "cc0-1.0",
    "publicdomain": "cc0-1.0",
    "odbl1.0": "odbl",
    "odcby1.0": "odc-by",
    "pddl1.0": "pddl",
    "gfdl1.3": "gfdl",
    "creativecommonsattribution4.0": "cc-by-4.0",
    "creativecommonsattributionsharealike4.0": "cc-by-sa-4.0",
    "creativecommonsattributionnoncommercial4.0": "cc-by-nc-4.0",
}
_NOISE_WORDS = re.compile(r"\b(?:the|licen[cs]e|version|international|public|generic|unported)\b")


def _squash(value: str) -> str:
    """A licence spelling reduced to letters, digits, '.' and '+' ("CC BY 4.0", "cc_by-4.0" -> "ccby4.0")."""
    text = value.strip().lower()
    text = re.sub(r"-(?:only|or-later)$", "", text)
    text = _NOISE_WORDS.sub(" ", text)
    text = re.sub(r"([a-z])v(?=\d)", r"\1", text)  # GPLv3 -> GPL3
    return re.sub(r"[^a-z0-9.+]", "", text)


_BY_SQUASHED = {_squash(license): license for license in HUB_LICENSES}


def hub_license(value: str) -> str:
    """The Hub's id for a licence as corpus.toml spells it ("CC-BY-4.0", "CC BY 4.0" -> "cc-by-4.0";
    "Apache 2.0" -> "apache-2.0"); ValueError listing the ids when it names none of them."""
    if value in HUB_LICENSES:
        return value
    squashed = _squash(value)
    for candidate in (squashed, squashed + ".0", re.sub(r"\.0$", "", squashed)):
        found = _BY_SQUASHED.get(candidate) or _LICENSE_ALIASES.get(candidate)
        if found:
            return found
    raise ValueError(f"license {value!r} is not a licence id the Hugging Face Hub knows; use one of: {', '.join(HUB_LICENSES)}")


# Optional keys of corpus.toml the card reads when they are there (each a string).
CARD_KEYS = ("description", "source_data", "uses", "limitations", "personal_information", "citation")


def card_fact(config, key: str) -> str | None:
    """An optional corpus.toml fact for the card, or None when corpus.toml does not state it."""
    value = getattr(config, key, None)
    if value is None:
        extra = getattr(config, "model_extra", None) or {}
        value = extra.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _fact_or_gap(config, key: str) -> str:
    return card_fact(config, key) or f"Not stated in corpus.toml (key `{key}`)."


_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(rows: int) -> str:
    """The Hub's size bucket for a number of rows."""
    for limit, name in _SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "100M<n<1B"


def arrow_size(path: Path) -> int:
    """The bytes of a parquet file's rows as Arrow tables, read a row group's worth at a time as
    `datasets` reads it when it prepares a split (so the figure is the one it computes)."""
    parquet = pq.ParquetFile(path)
    if not parquet.metadata.num_row_groups:
        return 0
    batch_size = max(1, parquet.metadata.row_group(0).num_rows)
    return sum(batch.nbytes for batch in parquet.iter_batches(batch_size=batch_size))


def card_metadata(
    context: ExportContext,
    features: dict[str, Features],
    splits: dict[str, dict[str, int]],
    folder: Path,
    arrow_sizes: dict[str, dict[str, int]] | None = None,
) -> DatasetCardData:
    """YAML metadata: configs (stories the default), features, task, language, licence, creators, size.

    A split's `num_bytes` (and `dataset_size`, their sum) is the size of its rows as Arrow
    tables, as `datasets` counts it when it prepares the split; `download_size` is the size of
    the parquet files. `arrow_sizes` (per config and split) gives the Arrow sizes as the
    writer added them up (:class:`curate.formats.hf.ArrowBytes`); without them each parquet
    file is read back (:func:`arrow_size`).
    """
    from curate.formats.hf import STORIES, data_file

    config = context.config
    card_data = DatasetCardData(
        language=[config.language],
        license=hub_license(config.license),
        annotations_creators=list(config.annotations_creators),
        language_creators=["found"],
        multilinguality="monolingual",
        size_categories=[size_category(sum(splits.get(STORIES, {}).values()))],
        source_datasets=["original"],
        task_categories=["token-classification"],
        task_ids=["named-entity-recognition"],
        pretty_name=config.name,
        tags=["curate", "story-segmentation", "boilerplate"],
    )
    configs = {}
    infos = {}
    for name, counts in splits.items():
        ordered = [split for split in context.split_names if counts.get(split)]
        configs[name] = {"data_files": [{"split": split, "path": data_file(name, split)} for split in ordered]}
        if name == STORIES:
            configs[name]["default"] = True
        split_dict = SplitDict()
        download_size = 0
        for split in ordered:
            parquet_size = (folder / data_file(name, split)).stat().st_size
            download_size += parquet_size
            known = (arrow_sizes or {}).get(name, {}).get(split)
            num_bytes = known if known is not None else arrow_size(folder / data_file(name, split))
            split_dict.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=counts[split]))
        dataset_size = sum(info.num_bytes for info in split_dict.values())
        infos[name] = DatasetInfo(features=features[name], splits=split_dict, download_size=download_size, dataset_size=dataset_size)
    MetadataConfigs(configs).to_dataset_card_data(card_data)
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    return card_data


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _figure(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def agreement_section(agreement: dict | None) -> str:
    """The agreement summary from a `curate agreement --json` object, or an empty string."""
    if not agreement or len(agreement.get("annotators", [])) < 2:
        return ""
    boundaries = agreement.get("boundaries") or {}
    entities = agreement.get("entities") or {}
    lines = [
        "## Inter-annotator agreement",
        "",
        f"Annotators: {', '.join(agreement['annotators'])}; snippets compared: {agreement.get('snippets', 'n/a')}.",
        "",
        f"- Story boundaries: Krippendorff's alpha {_figure(boundaries.get('alpha'))}, Fleiss' kappa {_figure(boundaries.get('fleiss_kappa'))}",
        f"- Entities: Krippendorff's alpha (per token) {_figure(entities.get('alpha'))}, unitizing alpha {_figure(entities.get('alpha_u'))}",
        "",
    ]
    boundary_pairs = boundaries.get("pairs") or []
    if boundary_pairs:
        lines.append(
            _table(
                ["pair", "snippets", "Pk", "WindowDiff", "B", "kappa"],
                [[f"{pair['a']} / {pair['b']}", pair.get("n"), _figure(pair.get("pk")), _figure(pair.get("windowdiff")), _figure(pair.get("boundary_similarity")), _figure(pair.get("kappa"))] for pair in boundary_pairs],
            )
        )
        lines.append("")
    entity_pairs = entities.get("pairs") or []
    if entity_pairs:
        lines.append(
            _table(
                ["pair", "snippets", "precision", "recall", "F1", "overlap F1", "token kappa"],
                [[f"{pair['a']} / {pair['b']}", pair.get("n"), _figure(pair.get("precision")), _figure(pair.get("recall")), _figure(pair.get("f1")), _figure(pair.get("overlap_f1")), _figure(pair.get("token_kappa"))] for pair in entity_pairs],
            )
        )
        lines.append("")
    return "\n".join(lines) + "\n"


def _empty_splits_sentence(context: ExportContext) -> str:
    empty = context.empty_splits()
    if not empty:
        return ""
    names = ", ".join(f"`{name}`" for name in empty)
    total = sum(context.counts.snippets.values())
    return (
        f" No snippet fell in {names}: with {total} snippet(s) the hash split left {'it' if len(empty) == 1 else 'them'} "
        f"empty, so the dataset has no {names} split."
    )


def _dedup_sentence(context: ExportContext) -> str:
    dedup = context.dedup
    if dedup is None:
        return " Near-duplicate stories were not grouped (`--no-dedup`): syndicated twins may sit in different splits."
    return (
        f" Pages that share a near-duplicate story (MinHash estimate of Jaccard similarity over word 3-grams at least "
        f"{dedup['threshold']:g}) go to one split together, placed by the hash of the group's smallest snippet id, "
        f"so a model is not tested on twins of its training stories: {dedup['clusters']} cluster(s) of near-duplicate "
        f"stories grouped {dedup['pages']} page(s) into {dedup['groups']} group(s)."
    )


def card_body(context: ExportContext, splits: dict[str, dict[str, int]]) -> str:
    """The prose of the card: contents, labels, how the data was made, counts, agreement."""
    from curate.formats.hf import SNIPPETS, STORIES, paragraph_kinds

    config = context.config
    counts = context.counts
    split_names = [split for split in context.split_names if counts.snippets.get(split)]
    made_from = (
        "adjudicated gold records (`gold.jsonl`)"
        if context.source == "gold"
        else f"the finished (`done`) records of annotator `{context.source}`"
    )
    sources = ", ".join(f"{name} ({count})" for name, count in sorted(counts.sources.items())) or "none"
    label_rows = [[label.name, f"`B-{label.name}`, `I-{label.name}`"] + [counts.entities[split][label.name] for split in split_names] for label in config.labels]
    parts = [
        f"# {config.name}",
        "",
        _fact_or_gap(config, "description"),
        "",
        "Every text was annotated in the terminal tool `curate` with story boundaries, boilerplate and named "
        "entities. Here each text is cut into its stories, boilerplate is left out of the story text, and "
        "entities are labelled.",
        "",
        "## Configurations",
        "",
        f"- `{STORIES}` (default): one row per story. `text` is the story without its boilerplate, `tokens` "
        "its tokens, `ner_tags` their IOB2 tags, `entities` the mentions (`start`, `end` are character "
        "offsets into `text`, end exclusive), `truncated` whether the text stops before the story ends.",
        f"- `{SNIPPETS}`: one row per snippet (a whole source text) with its full `text`, `stories`, `boilerplate` and `entities` "
        "as character offsets, and `paragraphs`: per non-blank line its offsets, its story, `story_start` "
        "(1 when a story begins at the line) and `boilerplate` (the kind covering most of the line, or "
        f"`none`; one of {', '.join(f'`{kind}`' for kind in paragraph_kinds(config.boilerplate_kinds))}), "
        "for training story segmenters and boilerplate detectors.",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'stories = load_dataset("PATH_OR_REPO", "{STORIES}")',
        f'snippets = load_dataset("PATH_OR_REPO", "{SNIPPETS}")',
        "```",
        "",
        "## Labels",
        "",
        f"Tag set (IOB2): {', '.join(f'`{name}`' for name in context.tag_names)}. Entity mentions per split:",
        "",
        _table(["label", "tags"] + split_names, label_rows),
        "",
        "## Splits",
        "",
        "Each snippet goes to one split by a hash of its id"
        + (f" (seed {context.seed})" if context.seed else "")
        + ", so all stories of a snippet land in the same split and a re-export keeps every snippet where it was. "
        f"Fractions asked for: {', '.join(f'{name} {fraction:g}' for name, fraction in context.splits.items())}."
        + _empty_splits_sentence(context)
        + _dedup_sentence(context),
        "",
        _table(
            ["split", "snippets", "stories", "truncated stories", "boilerplate ranges", "entity mentions"],
            [[split, counts.snippets[split], counts.stories[split], counts.truncated[split], counts.boilerplate[split], sum(counts.entities[split].values())] for split in split_names],
        ),
        "",
        "## How it was made",
        "",
        f"Exported by `curate export` from corpus `{config.name}`, using {made_from}. "
        f"Records per annotator behind the export: {sources}. Annotations creators: "
        f"{', '.join(config.annotations_creators)}. Tokens come from curate's own rule-based tokenizer "
        "(the one the annotators worked on), so entity edges are token edges. An entity that reached into "
        "dropped boilerplate keeps only its tokens in the story text.",
        "",
        "### Source data",
        "",
        _fact_or_gap(config, "source_data"),
        "",
    ]
    agreement = agreement_section(context.agreement)
    if agreement:
        parts.append(agreement)
    parts += _closing_sections(context, made_from)
    return "\n".join(parts)


def _closing_sections(context: ExportContext, made_from: str) -> list[str]:
    """Uses; Bias, Risks, and Limitations; Personal and Sensitive Information; Citation; Licence.

    What corpus.toml states comes first; what the export itself knows (labels, truncated
    stories, where the records come from) is added as facts; a key corpus.toml lacks is named.
    """
    config = context.config
    counts = context.counts
    stories = sum(counts.stories.values())
    truncated = sum(counts.truncated.values())
    labels = ", ".join(f"`{name}`" for name in config.label_names)
    people = [name for name in config.label_names if name.upper() in ("PERSON", "PER", "PEOPLE")]
    citation = card_fact(config, "citation")
    if citation is None:
        citation_lines = ["Not stated in corpus.toml (key `citation`)."]
    elif citation.lstrip().startswith("@"):
        citation_lines = ["```bibtex", citation, "```"]
    else:
        citation_lines = [citation]
    licence = hub_license(config.license)
    spelled = f" (corpus.toml says `{config.license}`)" if licence != config.license else ""
    parts = [
        "## Uses",
        "",
        _fact_or_gap(config, "uses"),
        "",
        "The `stories` configuration is laid out for training and evaluating named-entity recognisers "
        "(IOB2 tags over curate's tokens); the `snippets` configuration for story segmentation and "
        "boilerplate detection.",
        "",
        "## Bias, Risks, and Limitations",
        "",
        _fact_or_gap(config, "limitations"),
        "",
        f"- Only the labels {labels} are marked; every other mention is tagged `O`.",
        f"- {truncated} of {stories} stories are truncated: their text stops before the story ends.",
        f"- The records are {made_from}; entity edges are curate's token edges.",
        "",
        "## Personal and Sensitive Information",
        "",
        _fact_or_gap(config, "personal_information"),
        "",
    ]
    if people:
        parts += [f"The label set includes {', '.join(f'`{name}`' for name in people)}: the texts name people, and those names are marked.", ""]
    parts += ["## Citation", "", *citation_lines, "", "## Licence", "", f"`{licence}`{spelled}.", ""]
    return parts


def dataset_card(
    context: ExportContext,
    features: dict[str, Features],
    splits: dict[str, dict[str, int]],
    folder: Path,
    arrow_sizes: dict[str, dict[str, int]] | None = None,
) -> str:
    """README.md for the dataset folder: `---` YAML `---` then the body."""
    metadata = card_metadata(context, features, splits, folder, arrow_sizes)
    return f"---\n{metadata.to_yaml()}\n---\n\n{card_body(context, splits)}"
