"""`curate publish`: export the HF folder to a temporary place and upload it as a Hub dataset repo.

The token is whatever huggingface_hub finds (`HF_TOKEN`, or the login saved by `hf auth
login`); it is passed to huggingface_hub only and never printed, logged or written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from curate.export import ExportError, ExportReport, export_corpus
from curate.store import Corpus


@dataclass
class PublishReport:
    repo_id: str
    files: list[str] = field(default_factory=list)
    card: str = ""
    url: str | None = None
    dry_run: bool = False
    export: ExportReport | None = None


def check_repo_id(repo_id: str) -> str:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(part.startswith((".", "-")) for part in parts):
        raise ExportError(f"--repo-id {repo_id!r}: expected ORG/NAME (or USER/NAME)")
    return repo_id


def publish(
    corpus: Corpus | Path | str,
    repo_id: str,
    *,
    private: bool = False,
    source: str = "gold",
    splits: str | None = None,
    seed: int = 0,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> PublishReport:
    """Export `corpus` as a dataset folder and upload it to `repo_id` (only list it when `dry_run`)."""
    check_repo_id(repo_id)
    token = None
    if not dry_run:
        from huggingface_hub import get_token

        token = get_token()
        if not token:
            raise ExportError("not logged in to the Hugging Face Hub: set HF_TOKEN or run `hf auth login` (or use --dry-run)")
    with tempfile.TemporaryDirectory(prefix="curate-publish-") as folder:
        out = Path(folder) / "dataset"
        exported = export_corpus(corpus, out, source=source, fmt="hf", splits=splits, seed=seed, on_progress=on_progress)
        report = PublishReport(
            repo_id=repo_id,
            files=[path.relative_to(out).as_posix() for path in exported.files],
            card=(out / "README.md").read_text(encoding="utf-8"),
            dry_run=dry_run,
            export=exported,
        )
        if dry_run:
            return report
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(out),
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"curate export ({source}): {exported.snippets} snippets, {exported.stories} stories",
        )
        report.url = getattr(commit, "commit_url", None) or f"https://huggingface.co/datasets/{repo_id}"
    return report
