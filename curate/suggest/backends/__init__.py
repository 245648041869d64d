"""Entity models other than spaCy pipelines, for `curate suggest --entities PREFIX:ID_OR_PATH`.

`hf:` is a Hugging Face token-classification model (backends/hf.py), `gliner:` a GLiNER
zero-shot model prompted with the corpus's labels (backends/gliner.py). Each needs an extra
(`pip install 'curate[transformers]'`, `'curate[gliner]'`) and torch; this module imports
neither, so naming a back end costs nothing until one is loaded.

A back end answers `predict(texts)` with (start, end, label) character spans per text, in its
own labels. `pipe` wraps that in the shape the spaCy callers read (`doc.ents` with
`start_char`, `end_char`, `label_`, and no tokens, so no part-of-speech tags), so
`entities.ner_entities`, the learned entity CRF (`tagger.model_output`) and learning take a
back end wherever they take a pipeline.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from curate.suggest.entities import ModelError, ModelSource

PREFIXES = ("hf:", "gliner:")
# Which extra brings which back end's libraries.
EXTRAS = {"hf:": "transformers", "gliner:": "gliner"}

Span = tuple[int, int, str]


class ExtraNotInstalled(ModelError):
    """A back end's libraries are missing; the message names the pip command."""


class SpanEnt(NamedTuple):
    start_char: int
    end_char: int
    label_: str


class SpanDoc(NamedTuple):
    """What `pipe` yields for one text: its entities, and no tokens."""

    ents: list[SpanEnt]

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # a Doc iterates over tokens; a back end has none
        return iter(())


class SpanBackend:
    """The common face of the back ends: `predict`, and `pipe` for callers written for spaCy."""

    def predict(self, texts: Sequence[str]) -> list[list[Span]]:
        raise NotImplementedError

    def model_labels(self) -> list[str]:
        """The labels `predict` can answer with, in the model's order."""
        raise NotImplementedError

    def pipe(self, texts: Iterable[str], batch_size: int = 256) -> Iterator[SpanDoc]:
        pending: list[str] = []
        for text in texts:
            pending.append(text)
            if len(pending) >= batch_size:
                yield from self._docs(pending)
                pending = []
        if pending:
            yield from self._docs(pending)

    def _docs(self, texts: list[str]) -> Iterator[SpanDoc]:
        for spans in self.predict(texts):
            yield SpanDoc([SpanEnt(start, end, label) for start, end, label in spans])


def is_backend(name: str | None) -> bool:
    return name is not None and name.startswith(PREFIXES)


def unmapped_labels(backend: SpanBackend, label_map: dict[str, str]) -> str | None:
    """A note naming the model's labels that map to no corpus label (their entities are dropped), or None."""
    dropped = [label for label in backend.model_labels() if label not in label_map]
    if not dropped:
        return None
    return f"model labels {', '.join(dropped)} map to no corpus label, so their entities are left out (--label-map {dropped[0]}=LABEL keeps them)"


def require(prefix: str, *modules: str) -> list[Any]:
    """Import a back end's libraries, or ExtraNotInstalled naming the command that installs them."""
    extra = EXTRAS[prefix]
    imported = []
    for module in modules:
        try:
            imported.append(importlib.import_module(module))
        except ImportError as error:
            missing = error.name or module
            if missing == "torch":
                raise ExtraNotInstalled(f"--entities {prefix}...: needs torch, which is not installed: pip install torch, then pip install 'curate[{extra}]'") from None
            raise ExtraNotInstalled(f"--entities {prefix}...: needs the {extra} extra ({missing} is not installed): pip install 'curate[{extra}]'") from None
    return imported


def device_name(torch: Any) -> str:
    """"cuda" when torch sees a GPU, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def model_version(id_or_path: str) -> str:
    """What names the model's weights: for a folder, a digest of its files; for a Hub model, the
    commit of the cached snapshot (known once the model was loaded); "0" when neither is known."""
    path = Path(id_or_path)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(child for child in path.iterdir() if child.is_file()):
            digest.update(file.name.encode() + b"\0")
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()[:12]
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(id_or_path, local_files_only=True)).name[:12]
    except Exception:  # not in the cache under that name: the suggestions say so rather than guess
        return "0"


# The file a model folder holds for each back end (either will do for GLiNER).
CONFIG_FILES = {"hf:": ("config.json",), "gliner:": ("gliner_config.json", "config.json")}


def local_problem(prefix: str, id_or_path: str) -> str | None:
    """Why `id_or_path`, when it names a folder on this machine rather than a Hub id ("NAME" or
    "OWNER/NAME"), is not a model folder; None when it is one or names a Hub model. The libraries
    say "Repo id must be in the form ..." for a folder that is not there, and little better for
    one that holds no model."""
    path = Path(id_or_path)
    local = id_or_path.startswith(("/", "./", "../", "~", "\\")) or id_or_path.count("/") > 1 or path.exists()
    if not local:
        return None
    if not path.exists():
        return "no such folder"
    if not path.is_dir():
        return "not a folder (name the folder the model was saved in)"
    wanted = CONFIG_FILES[prefix]
    if not any((path / name).is_file() for name in wanted):
        return f"the folder holds no {' or '.join(wanted)}, so no saved model"
    return None


def load_backend(spec: str, label_map: dict[str, str]) -> tuple[SpanBackend, ModelSource]:
    """Load `hf:ID_OR_PATH` or `gliner:ID_OR_PATH`; ExtraNotInstalled or ModelError when it cannot be."""
    prefix, _, id_or_path = spec.partition(":")
    prefix += ":"
    if not id_or_path:
        raise ModelError(f"--entities {spec}: name a model after {prefix} (a Hugging Face model id or a folder)")
    if id_or_path.startswith("~"):  # the shell leaves a "~" after "hf:" as it is
        id_or_path = str(Path(id_or_path).expanduser())
    problem = local_problem(prefix, id_or_path)
    if problem is not None:
        raise ModelError(f"--entities {spec}: cannot load it: {problem}")
    if prefix == "hf:":
        from curate.suggest.backends.hf import load

        backend = load(id_or_path)
    else:
        from curate.suggest.backends.gliner import load

        backend = load(id_or_path, label_map)
    path = Path(id_or_path)
    # Suggestions are named by the Hub id, or by a folder's own name (not where it lies on this machine);
    # the version, a digest of the folder's files, tells two folders of one name apart.
    name = f"{prefix}{path.resolve().name}" if path.is_dir() else spec
    return backend, ModelSource(name=name, version=model_version(id_or_path), path=path, known=None)
