"""`curate publish`: everything but the network call; the folder uploaded is the folder load_dataset reads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import shutil
from pathlib import Path

import datasets
import huggingface_hub
import pytest
from export_fixtures import build_corpus
from typer.testing import CliRunner

from curate.cli import app
from curate.export import ExportError, export_corpus
from curate.export.publish import publish

FAKE_TOKEN = "hf_FAKEtokenThatMustNeverBePrinted"


class HubCalls:
    """Stands in for the two network calls and keeps a copy of what would have been uploaded."""

    def __init__(self, uploaded: Path) -> None:
        self.uploaded = uploaded
        self.created: list[dict] = []
        self.uploads: list[dict] = []
        self.tokens: list[str | None] = []

    def install(self, monkeypatch) -> None:
        calls = self

        def create_repo(api, repo_id, **kwargs):
            calls.tokens.append(api.token)
            calls.created.append({"repo_id": repo_id, **kwargs})
            return f"https://huggingface.co/datasets/{repo_id}"

        def upload_folder(api, *, folder_path, repo_id, **kwargs):
            calls.tokens.append(api.token)
            calls.uploads.append({"repo_id": repo_id, **kwargs})
            shutil.copytree(folder_path, calls.uploaded)
            return None

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    return build_corpus(tmp_path, pages=12)


def test_publish_uploads_the_folder_load_dataset_reads(corpus_dir, tmp_path, monkeypatch):
    hub = HubCalls(tmp_path / "uploaded")
    hub.install(monkeypatch)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: FAKE_TOKEN)
    report = publish(corpus_dir, "curate-test/news", private=True)
    assert hub.created == [{"repo_id": "curate-test/news", "repo_type": "dataset", "private": True, "exist_ok": True}]
    assert [upload["repo_type"] for upload in hub.uploads] == ["dataset"]
    assert hub.tokens == [FAKE_TOKEN, FAKE_TOKEN]
    assert sorted(path.relative_to(hub.uploaded).as_posix() for path in hub.uploaded.rglob("*") if path.is_file()) == report.files
    export_corpus(corpus_dir, tmp_path / "local")
    for config in ("stories", "snippets"):
        uploaded = datasets.load_dataset(str(hub.uploaded), config, cache_dir=str(tmp_path / "cache-a"))
        local = datasets.load_dataset(str(tmp_path / "local"), config, cache_dir=str(tmp_path / "cache-b"))
        assert set(uploaded) == set(local)
        for split in local:
            assert uploaded[split].features == local[split].features
            assert uploaded[split].to_list() == local[split].to_list()
    assert (hub.uploaded / "README.md").read_text(encoding="utf-8") == report.card


def test_publish_cli_never_shows_the_token(corpus_dir, tmp_path, monkeypatch):
    hub = HubCalls(tmp_path / "uploaded")
    hub.install(monkeypatch)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: FAKE_TOKEN)
    result = CliRunner().invoke(app, ["publish", str(corpus_dir), "--repo-id", "curate-test/news"])
    assert result.exit_code == 0, result.output
    assert "uploaded 7 file(s) to https://huggingface.co/datasets/curate-test/news" in result.output
    assert FAKE_TOKEN not in result.output
    assert not any(FAKE_TOKEN.encode() in path.read_bytes() for path in hub.uploaded.rglob("*") if path.is_file())
    assert hub.created[0]["private"] is False


def test_dry_run_lists_files_and_card_and_calls_nothing(corpus_dir, tmp_path, monkeypatch):
    hub = HubCalls(tmp_path / "uploaded")
    hub.install(monkeypatch)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    result = CliRunner().invoke(app, ["publish", str(corpus_dir), "--repo-id", "curate-test/news", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "data/stories/train-00000-of-00001.parquet" in result.output
    assert "task_categories:" in result.output and "## Labels" in result.output
    assert hub.created == [] and hub.uploads == []


def test_publish_without_a_login_says_how_to_log_in(corpus_dir, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    result = CliRunner().invoke(app, ["publish", str(corpus_dir), "--repo-id", "curate-test/news"])
    assert result.exit_code == 1
    assert "HF_TOKEN" in result.output
    with pytest.raises(ExportError, match="ORG/NAME"):
        publish(corpus_dir, "no-slash", dry_run=True)


def test_dry_run_prints_every_card_line_unchanged_on_a_narrow_terminal(corpus_dir, monkeypatch):
    from curate.store import read_config, write_config

    write_config(corpus_dir, read_config(corpus_dir).model_copy(update={"name": "news \x1b]0;owned\x07 corpus"}))
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    result = CliRunner().invoke(app, ["publish", str(corpus_dir), "--repo-id", "curate-test/news", "--dry-run"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    report = publish(corpus_dir, "curate-test/news", dry_run=True)
    printed = result.stdout.splitlines()
    card_lines = report.card.splitlines()
    assert any(len(line) > 40 for line in card_lines)  # wide table rows and long paragraphs
    shown = [line.replace("\x1b", "\\x1b").replace("\x07", "\\x07") for line in card_lines]
    start = printed.index("---")
    assert printed[start : start + len(shown)] == shown
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "# news \\x1b]0;owned\\x07 corpus" in printed
