"""The dataset card (README.md) of an exported folder: YAML metadata the Hub and `datasets` read, and a body for people."""

from __future__ import annotations

from pathlib import Path

from datasets import DatasetInfo, Features
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCardData

from curate.export.context import ExportContext

_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(rows: int) -> str:
    """The Hub's size bucket for a number of rows."""
    for limit, name in _SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "100M<n<1B"


def card_metadata(context: ExportContext, features: dict[str, Features], splits: dict[str, dict[str, int]], folder: Path) -> DatasetCardData:
    """YAML metadata: configs (stories the default), features, task, language, licence, creators, size."""
    from curate.export.hf import STORIES, data_file

    config = context.config
    card_data = DatasetCardData(
        language=[config.language],
        license=config.license,
        annotations_creators=list(config.annotations_creators),
        language_creators=["found"],
        multilinguality="monolingual",
        size_categories=[size_category(sum(splits.get(STORIES, {}).values()))],
        source_datasets=["original"],
        task_categories=["token-classification"],
        task_ids=["named-entity-recognition"],
        pretty_name=config.name,
        tags=["curate", "news", "story-segmentation", "boilerplate"],
    )
    configs = {}
    infos = {}
    for name, counts in splits.items():
        ordered = [split for split in context.split_names if counts.get(split)]
        configs[name] = {"data_files": [{"split": split, "path": data_file(name, split)} for split in ordered]}
        if name == STORIES:
            configs[name]["default"] = True
        split_dict = SplitDict()
        for split in ordered:
            size = (folder / data_file(name, split)).stat().st_size
            split_dict.add(SplitInfo(name=split, num_bytes=size, num_examples=counts[split]))
        total = sum(info.num_bytes for info in split_dict.values())
        infos[name] = DatasetInfo(features=features[name], splits=split_dict, download_size=total, dataset_size=total)
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


def card_body(context: ExportContext, splits: dict[str, dict[str, int]]) -> str:
    """The prose of the card: contents, labels, how the data was made, counts, agreement."""
    from curate.export.hf import SNIPPETS, STORIES, paragraph_kinds

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
        "News text scraped from web pages, annotated with story boundaries, boilerplate and named entities "
        "in the terminal tool `curate`. Scraped pages run several stories together (a full article, then "
        "teasers of others) with captions and credits between them; here every page is cut into its stories, "
        "boilerplate is left out of the story text, and entities are labelled.",
        "",
        "## Configurations",
        "",
        f"- `{STORIES}` (default): one row per story. `text` is the story without its boilerplate, `tokens` "
        "its tokens, `ner_tags` their IOB2 tags, `entities` the mentions (`start`, `end` are character "
        "offsets into `text`, end exclusive), `truncated` whether the scraped text stops before the story ends.",
        f"- `{SNIPPETS}`: one row per scraped page with its full `text`, `stories`, `boilerplate` and `entities` "
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
        "Each page goes to one split by a hash of its id"
        + (f" (seed {context.seed})" if context.seed else "")
        + ", so all stories of a page land in the same split and a re-export keeps every page where it was. "
        f"Fractions asked for: {', '.join(f'{name} {fraction:g}' for name, fraction in context.splits.items())}.",
        "",
        _table(
            ["split", "pages", "stories", "truncated stories", "boilerplate ranges", "entity mentions"],
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
    ]
    agreement = agreement_section(context.agreement)
    if agreement:
        parts.append(agreement)
    parts += ["## Licence", "", f"`{config.license}`.", ""]
    return "\n".join(parts)


def dataset_card(context: ExportContext, features: dict[str, Features], splits: dict[str, dict[str, int]], folder: Path) -> str:
    """README.md for the dataset folder: `---` YAML `---` then the body."""
    metadata = card_metadata(context, features, splits, folder)
    return f"---\n{metadata.to_yaml()}\n---\n\n{card_body(context, splits)}"
