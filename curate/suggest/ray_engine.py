"""`curate suggest --engine ray`: proposing as a Ray Data job, on this machine or a cluster.

The calling process reads the snippets still to do, a window of batches at a time, and hands
each window to Ray Data as a dataset of (id, text) rows; Ray tasks (at most `workers` at once,
one CPU each) propose for a batch of rows and send back each record as its JSON line with its
uncertainty score. The results come back in the snippets' order, and the service appends them
to suggestions.jsonl in this process, so the file is written by one writer only, as it is
without Ray.

A worker cannot be assumed to see the corpus folder, so what the run learned (the story-start
CRF, the entity CRF, a fine-tuned pipeline's folder) is shipped by value: the files' bytes go
into Ray's object store once per run with the SuggesterSpec, and each worker process writes
them to a folder of its temporary directory (named by their digest) and builds its Suggester
once, for every batch it is given. A pipeline given by name (en_core_web_sm) must be installed
on the workers, as curate itself must be.

Ray is imported here only, inside the functions that need it (the `ray` extra).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import pickle
import re
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from curate.store import atomic_write_bytes
from curate.suggest import uncertainty
from curate.suggest.backends import PREFIXES, first_line
from curate.suggest.service import Suggester, SuggestError, SuggesterSpec

INSTALL = "pip install 'curate[ray]'"
# A local cluster started for one run: small, because it shares the machine with the editor.
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024
# Batches handed to Ray at a time, per worker: enough to keep every worker busy between windows,
# few enough that the snippets read ahead stay a small part of the corpus.
WINDOW_BATCHES_PER_WORKER = 16
_BATCH_FAILED = "the batch from snippet"
PROBE_SECONDS = 5.0  # to see whether an --address answers at all


class WorkerFailed(SuggestError):
    """A batch failed on a Ray worker; the message names the batch's first snippet and the cause."""


def require_ray(address: str | None = None) -> None:
    """SuggestError naming the pip command when the `ray` extra is not installed, or saying that `address` does not answer."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise SuggestError(f"--engine ray needs Ray: {INSTALL}") from None
    if address:
        _reachable(address)


@dataclass(frozen=True)
class ShippedSpec:
    """A SuggesterSpec with the learned files it names carried as bytes (picklable)."""

    spec: SuggesterSpec
    files: dict[str, bytes]  # "crf", "tagger" -> the file's bytes
    model_files: dict[str, bytes]  # a pipeline folder's files by relative path; empty when the model is a name


def ship(spec: SuggesterSpec) -> ShippedSpec:
    """Read the files `spec` names, so that a worker on another machine can build the same Suggester."""
    files = {}
    if spec.crf_path:
        files["crf"] = Path(spec.crf_path).read_bytes()
    if spec.tagger_path:
        files["tagger"] = Path(spec.tagger_path).read_bytes()
    model_files: dict[str, bytes] = {}
    folder = _model_folder(spec.model)
    if folder is not None:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                model_files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return ShippedSpec(spec, files, model_files)


def _model_folder(model: str | None) -> Path | None:
    """The folder a pipeline (or an hf:/gliner: model) is loaded from, if it is one on this machine."""
    if model is None:
        return None
    name = model
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    path = Path(name)
    return path if path.is_dir() else None


def unpack(shipped: ShippedSpec) -> SuggesterSpec:
    """Write the shipped files under this machine's temporary folder (one folder per distinct set
    of files, so runs with the same models reuse it); the spec pointing at them."""
    contents = pickle.dumps((sorted(shipped.files.items()), sorted(shipped.model_files.items())))
    folder = Path(tempfile.gettempdir()) / f"curate-ray-{hashlib.sha256(contents).hexdigest()[:16]}"
    changes: dict[str, Any] = {}
    for name, field_name in (("crf", "crf_path"), ("tagger", "tagger_path")):
        if name in shipped.files:
            changes[field_name] = str(_written(folder / name, shipped.files[name]))
    if shipped.model_files:
        model_folder = folder / "model"
        for relative, data in shipped.model_files.items():
            _written(model_folder / relative, data)
        model = shipped.spec.model or ""
        prefix = next((prefix for prefix in PREFIXES if model.startswith(prefix)), "")
        changes["model"] = prefix + str(model_folder)
    return replace(shipped.spec, **changes)


def _written(path: Path, data: bytes) -> Path:
    """`data` at `path`, written whole (a temporary name, then a rename) unless already there."""
    if path.exists() and path.stat().st_size == len(data):
        return path
    atomic_write_bytes(path, [data])
    return path


# ---------------------------------------------------------------- on a worker

_suggesters: dict[str, Suggester] = {}  # one per worker process, built at its first batch


def suggest_rows(batch: Any, shipped: tuple[str, Any]) -> Any:
    """Ray Data's batch function: a pyarrow table of (id, text) in, of (line, score) out."""
    import pyarrow as pa
    import ray

    key, reference = shipped
    suggester = _suggesters.get(key)
    if suggester is None:
        value = ray.get(reference) if isinstance(reference, ray.ObjectRef) else reference
        _suggesters.clear()
        suggester = _suggesters[key] = Suggester(unpack(value))
    pairs = list(zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()))
    try:
        records, scores = uncertainty.suggest_scored(suggester, pairs)
    except Exception as error:
        first = pairs[0][0] if pairs else "?"
        raise RuntimeError(f"{_BATCH_FAILED} {first!r}: {type(error).__name__}: {error}") from error
    return pa.table({"line": [record.model_dump_json() for record in records], "score": pa.array(scores, type=pa.float64())})


# ---------------------------------------------------------------- in the calling process


def suggest_batches(batches: Iterable[list[tuple[str, str]]], spec: SuggesterSpec, *, workers: int, address: str | None) -> Iterator[tuple[list[str], list[float]]]:
    """(JSON lines, scores) for `batches`, in their order, proposed by Ray tasks.

    Joins the cluster at `address` ("auto", "HOST:6379", ...); without one, starts a small
    local cluster of `workers` CPUs for the run. Either way it lets go at the end (also after
    Ctrl+C or a failure): a local cluster stops, a joined one runs on. Ray already initialised
    in this process (a test's cluster) is used as it is.
    """
    require_ray()
    import ray

    pending = iter(batches)
    first = next(pending, None)
    if first is None:  # nothing to do: no cluster started or joined
        return
    started = _connect(address, workers)
    try:
        shipped = ship(spec)
        key = hashlib.sha256(pickle.dumps(shipped)).hexdigest()[:16]
        reference = ray.put(shipped)
        window: list[list[tuple[str, str]]] = []
        for batch in itertools.chain([first], pending):
            window.append(batch)
            if len(window) >= WINDOW_BATCHES_PER_WORKER * workers:
                yield from _window(window, (key, reference), workers)
                window = []
        if window:
            yield from _window(window, (key, reference), workers)
    finally:
        if started:
            ray.shutdown()


def _connect(address: str | None, workers: int) -> bool:
    """Join or start Ray; True when this call did (so must shut this process's Ray down after)."""
    import ray

    if address:
        _reachable(address)
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
            return True
        ray.init(address="local", num_cpus=workers, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)  # a new one, even if another runs here
        return True
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise SuggestError(f"--engine ray: cannot reach {where}: {first_line(error)}") from None


def _reachable(address: str) -> None:
    """SuggestError at once when HOST:PORT (or ray://HOST:PORT) does not answer: Ray itself would
    retry for minutes. "auto" and "local" are left to Ray, which says at once when none runs."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SuggestError(f"--address {address}: give auto, HOST:PORT (the head node's GCS, 6379 by default) or ray://HOST:PORT (Ray Client, 10001)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise SuggestError(f"--engine ray: cannot reach the Ray cluster at {address}: {error.strerror or error}") from None


def _window(window: list[list[tuple[str, str]]], shipped: tuple[str, Any], workers: int) -> Iterator[tuple[list[str], list[float]]]:
    """One Ray Data job over a window of batches, its output in the batches' order."""
    import ray
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # its notes on each job would break the progress bar; a failure is raised
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # suggestions.jsonl in the snippets' order, as without Ray
    context.enable_progress_bars = False  # the command draws its own
    context.print_on_execution_start = False
    rows = [{"id": snippet_id, "text": text} for batch in window for snippet_id, text in batch]
    dataset = ray.data.from_items(rows, override_num_blocks=len(window))
    dataset = dataset.map_batches(
        suggest_rows,
        fn_kwargs={"shipped": shipped},
        batch_size=max(len(batch) for batch in window),
        batch_format="pyarrow",
        compute=ray.data.TaskPoolStrategy(size=workers),
        num_cpus=1,
    )
    try:
        for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            yield table.column("line").to_pylist(), table.column("score").to_pylist()
    except ray.exceptions.RayError as error:
        raise WorkerFailed(f"a Ray worker failed: {_cause(error)}") from None


_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)): (.+)$")
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def _cause(error: BaseException) -> str:
    """One line naming what failed on the worker.

    Ray passes a worker's exception back as the text of its traceback (RayTaskError), under
    Ray Data's own UserCodeException; the last exception line that is not Ray's says what
    happened (for a failed batch, suggest_rows's line naming the batch's first snippet).
    """
    text = _ESCAPES.sub("", str(error))
    found = None
    for line in text.splitlines():
        match = _EXCEPTION_LINE.match(line)
        if match and not match.group(1).startswith("ray."):
            found = match
    if found is None:
        lines = text.strip().splitlines()
        return lines[0] if lines else type(error).__name__
    if found.group(2).startswith(_BATCH_FAILED):
        return found.group(2)
    return f"{found.group(1)}: {found.group(2)}"
