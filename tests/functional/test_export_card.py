"""The dataset card: the Hub's licence ids, Arrow and parquet sizes, the sections a Hub card has, facts from corpus.toml."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import datasets
import pytest
import yaml
from export_fixtures import build_corpus, demo_corpus
from huggingface_hub import DatasetCard
from typer.testing import CliRunner

from curate.cli import app
from curate.export import ExportError, export_corpus
from curate.export.card import CARD_KEYS, HUB_LICENSES, card_body, hub_license
from curate.export.context import ExportContext
from curate.store import read_config, write_config


@pytest.mark.parametrize(
    ("spelled", "hub_id"),
    [
        ("CC-BY-4.0", "cc-by-4.0"),
        ("CC BY 4.0", "cc-by-4.0"),
        ("cc-by-4.0", "cc-by-4.0"),
        ("cc_by_4.0", "cc-by-4.0"),
        ("Creative Commons Attribution 4.0 International", "cc-by-4.0"),
        ("CC BY-SA 4.0", "cc-by-sa-4.0"),
        ("CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0"),
        ("CC0", "cc0-1.0"),
        ("CC0-1.0", "cc0-1.0"),
        ("MIT", "mit"),
        ("MIT License", "mit"),
        ("Apache 2.0", "apache-2.0"),
        ("Apache-2.0", "apache-2.0"),
        ("Apache License, Version 2.0", "apache-2.0"),
        ("apache2", "apache-2.0"),
        ("GPLv3", "gpl-3.0"),
        ("GPL-3.0-only", "gpl-3.0"),
        ("LGPL-2.1-or-later", "lgpl-2.1"),
        ("ODbL", "odbl"),
        ("unknown", "unknown"),
        ("other", "other"),
    ],
)
def test_common_licence_spellings_become_the_hub_id(spelled, hub_id):
    assert hub_license(spelled) == hub_id
    assert hub_id in HUB_LICENSES


@pytest.mark.parametrize("spelled", ["CC-BY-5.0", "Proprietary", "all rights reserved", ""])
def test_an_unknown_licence_is_refused_with_the_valid_ids(spelled):
    with pytest.raises(ValueError) as raised:
        hub_license(spelled)
    message = str(raised.value)
    assert "\n" not in message
    assert all(hub_id in message for hub_id in ("cc-by-4.0", "apache-2.0", "mit", "other"))


def test_every_hub_id_is_its_own_spelling():
    assert len(set(HUB_LICENSES)) == len(HUB_LICENSES)
    for hub_id in HUB_LICENSES:
        assert hub_license(hub_id) == hub_id
        assert hub_license(hub_id.upper()) == hub_id


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    corpus_dir = demo_corpus(root)
    out = root / "out"
    export_corpus(corpus_dir, out, source="demo")
    return corpus_dir, out, root


def test_the_demo_card_parses_as_a_hub_card_with_the_hub_licence_id(demo_export):
    _, out, _ = demo_export
    assert 'license = "CC-BY-4.0"' in (Path(__file__).resolve().parents[2] / "corpora" / "demo" / "corpus.toml").read_text(encoding="utf-8")
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-4.0"
    assert card.data.license in HUB_LICENSES
    assert card.data.pretty_name == "demo"
    assert {info["config_name"] for info in card.data.dataset_info} == {"stories", "snippets"}
    assert "scraped" not in card.text  # the demo is original fiction; corpus.toml says nothing of scraping


def test_card_sizes_are_arrow_bytes_and_parquet_bytes_as_datasets_computes_them(demo_export):
    _, out, root = demo_export
    meta = yaml.safe_load((out / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    for info in meta["dataset_info"]:
        name = info["config_name"]
        parquet = sum(path.stat().st_size for path in (out / "data" / name).glob("*.parquet"))
        assert info["download_size"] == parquet
        builder = datasets.load_dataset_builder(str(out), name, cache_dir=str(root / f"cache-{name}"))
        builder.download_and_prepare()
        computed = {split: value.num_bytes for split, value in builder.info.splits.items()}
        assert {split["name"]: split["num_bytes"] for split in info["splits"]} == computed
        assert info["dataset_size"] == sum(computed.values())
        assert info["dataset_size"] != info["download_size"]


def test_the_card_has_the_sections_of_a_hub_card_and_names_what_corpus_toml_lacks(demo_export):
    _, out, _ = demo_export
    body = DatasetCard.load(out / "README.md").text
    for heading in ("## Uses", "## Bias, Risks, and Limitations", "## Personal and Sensitive Information", "## Citation", "## Licence"):
        assert f"\n{heading}\n" in body
    demo = read_config(Path(__file__).resolve().parents[2] / "corpora" / "demo")
    for key in CARD_KEYS:
        stated = getattr(demo, key)
        assert (stated in body) if stated else (f"Not stated in corpus.toml (key `{key}`)." in body)
    assert "Not stated in corpus.toml (key `citation`)." in body  # the demo states no citation
    assert "The label set includes `PERSON`" in body
    assert "`cc-by-4.0` (corpus.toml says `CC-BY-4.0`)." in body


def test_facts_corpus_toml_states_fill_the_card(tmp_path):
    config = read_config(build_corpus(tmp_path, pages=3, annotators=("alice",), gold=False))
    facts = {
        "description": "Original short fiction written for testing.",
        "source_data": "Written by the test suite.",
        "uses": "Testing curate only.",
        "limitations": "Three pages are too few for anything else.",
        "personal_information": "None: every name is invented.",
        "citation": "@misc{curate-test, title={Test news}}",
    }
    assert set(facts) == set(CARD_KEYS)
    stated = config.model_copy(update=facts)
    body = card_body(ExportContext(stated, tmp_path, "alice", {"train": 1.0}), {})
    for key, value in facts.items():
        assert value in body
        assert f"(key `{key}`)" not in body
    assert "```bibtex\n@misc{curate-test, title={Test news}}\n```" in body
    assert body.index("Original short fiction") < body.index("## Configurations")


def test_an_unknown_licence_refuses_the_export_before_anything_is_written(tmp_path):
    corpus_dir = build_corpus(tmp_path, pages=3, annotators=("alice",), gold=False)
    write_config(corpus_dir, read_config(corpus_dir).model_copy(update={"license": "Proprietary"}))
    with pytest.raises(ExportError, match="license 'Proprietary' is not a licence id the Hugging Face Hub knows"):
        export_corpus(corpus_dir, tmp_path / "out", source="alice")
    result = CliRunner().invoke(app, ["export", str(corpus_dir), "--out", str(tmp_path / "out"), "--source", "alice"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "corpus.toml" in lines[0] and "cc-by-4.0" in lines[0], result.stderr
    assert not (tmp_path / "out").exists() and not [path for path in tmp_path.iterdir() if path.name.startswith(".out")]
    export_corpus(corpus_dir, tmp_path / "conll", source="alice", fmt="conll")  # other formats carry no licence field
