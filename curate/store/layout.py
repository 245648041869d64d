"""Every path of a corpus folder, named in one place.

The corpus folder (docs/data-contract.md)::

    DIR/corpus.toml                   the corpus config (labels, boilerplate kinds, splits, card facts)
    DIR/snippets.jsonl                the snippets, immutable after ingest (ingest may append)
    DIR/suggestions.jsonl             machine proposals (a journal)
    DIR/annotations/NAME.jsonl        one append-only journal per annotator
    DIR/gold.jsonl                    adjudicated records, one per snippet, rewritten atomically
    DIR/assignments.jsonl             who annotates which snippet (`curate assign`), rewritten atomically
    DIR/.gitignore                    keeps .curate/ and models/ out of git (`curate ingest`, `curate sync`)
    DIR/models/                       what `curate suggest --learn` fitted on the corpus:
        story-starts.crfsuite         the story-start CRF
        entities.crfsuite             the entity tagger (second stage)
        entities.first.crfsuite       its first stage
        ner/                          a fine-tuned spaCy pipeline
        learned.json                  what was learned, from how many examples, and when
    DIR/.curate/                      derived files, rebuilt whenever they do not match their file;
                                      review/ alone holds work (an adjudicator's unaccepted edits)
        snippets.json                 the snippet index's signature (which snippets.jsonl it describes)
        snippets.offsets.npy          byte offset of every snippet line
        snippets.hashes.npy           id hashes, sorted, and ...
        snippets.positions.npy        ... the position of each
        snippets.texts.npz            each snippet text's length and sha256 prefix (for `curate stats`)
        journals/KEY.index            per journal: offset, length and status of each snippet's last record
                                      (KEY.index.npz before index version 8: ignored, removed on the next save)
        locks/KEY.lock                a writer's lock on a journal (or on gold.jsonl: locks/gold.jsonl.lock)
        review/NAME.jsonl             an adjudicator's review journal (edits not yet accepted as gold)
        dedup.json                    `curate dedup`'s clusters, with the file signatures and threshold they came from
        places/NAME.json              where an annotator last was (snippet and token), reopened by `curate annotate`
        uncertainty.npz               per snippet, how unsure its latest suggestion is (`annotate --order uncertainty`)

KEY is the file's path inside the folder with `/` spelled `__` (``annotations__ana.jsonl``,
``suggestions.jsonl``, ``.curate__review__ana.jsonl``).

Code outside the store builds none of these paths itself: it asks a :class:`CorpusLayout`
(``Corpus.layout``, or ``CorpusLayout(path)`` when only the folder is known).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "corpus.toml"
SNIPPETS_NAME = "snippets.jsonl"
SUGGESTIONS_NAME = "suggestions.jsonl"
GOLD_NAME = "gold.jsonl"
ASSIGNMENTS_NAME = "assignments.jsonl"
ANNOTATIONS_DIR = "annotations"
MODELS_DIR = "models"
INDEX_DIR = ".curate"
GITIGNORE_NAME = ".gitignore"

# Under models/.
STORY_MODEL_NAME = "story-starts.crfsuite"
ENTITY_MODEL_NAME = "entities.crfsuite"
NER_MODEL_NAME = "ner"
LEARNED_NAME = "learned.json"

# Under .curate/.
SNIPPET_INDEX_META = "snippets.json"
SNIPPET_INDEX_ARRAYS = ("offsets", "hashes", "positions")
JOURNAL_INDEX_DIR = "journals"
LOCKS_DIR = "locks"
REVIEW_DIR = "review"
DEDUP_CACHE = "dedup.json"
PLACES_DIR = "places"
UNCERTAINTY_SCORES = "uncertainty.npz"


@dataclass(frozen=True)
class CorpusLayout:
    """The paths of the corpus folder at `root` (nothing is read or made here)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def snippets(self) -> Path:
        return self.root / SNIPPETS_NAME

    @property
    def suggestions(self) -> Path:
        return self.root / SUGGESTIONS_NAME

    @property
    def gold(self) -> Path:
        return self.root / GOLD_NAME

    @property
    def assignments(self) -> Path:
        """Who annotates which snippet: a header line, then one line per assigned snippet."""
        return self.root / ASSIGNMENTS_NAME

    @property
    def annotations(self) -> Path:
        return self.root / ANNOTATIONS_DIR

    def journal(self, annotator: str) -> Path:
        """An annotator's journal (the name is not checked here: see check_annotator_name)."""
        return self.annotations / f"{annotator}.jsonl"

    @property
    def gitignore(self) -> Path:
        """What git leaves out when the folder is a repository shared by `curate sync`."""
        return self.root / GITIGNORE_NAME

    def git_ignored(self) -> tuple[str, ...]:
        """The .gitignore lines a corpus needs: its derived and local folders, and the temporary
        files of atomic rewrites."""
        return (f"/{INDEX_DIR}/", f"/{MODELS_DIR}/", ".*.tmp")

    @staticmethod
    def is_gold(path: Path) -> bool:
        """True when `path` is named like a corpus's gold file (one record per snippet)."""
        return Path(path).name == GOLD_NAME

    # ---- models/

    @property
    def models(self) -> Path:
        return self.root / MODELS_DIR

    # ---- .curate/

    @property
    def sync_lock(self) -> Path:
        """Held by `curate sync` while it runs (one sync per corpus folder at a time)."""
        return self.index_dir / LOCKS_DIR / "sync.lock"

    @property
    def index_dir(self) -> Path:
        """The folder of derived files and review journals; everything but review/ is rebuilt when missing."""
        return self.root / INDEX_DIR

    @property
    def snippet_index_meta(self) -> Path:
        return self.index_dir / SNIPPET_INDEX_META

    def snippet_index_array(self, name: str) -> Path:
        """One array of the snippet index: `name` is one of SNIPPET_INDEX_ARRAYS."""
        return self.index_dir / f"snippets.{name}.npy"

    @property
    def snippet_texts(self) -> Path:
        """Each snippet text's length and the first 64 bits of its sha256, made when first needed."""
        return self.index_dir / "snippets.texts.npz"

    def snippet_index_files(self) -> list[Path]:
        return [self.snippet_index_array(name) for name in SNIPPET_INDEX_ARRAYS] + [self.snippet_index_meta]

    def file_key(self, path: Path) -> str:
        """A corpus file's path as one file name (`annotations/ana.jsonl` -> `annotations__ana.jsonl`),
        naming its index and lock."""
        return str(Path(path).relative_to(self.root)).replace(os.sep, "__")

    @property
    def journal_indexes(self) -> Path:
        return self.index_dir / JOURNAL_INDEX_DIR

    def journal_index(self, journal_path: Path) -> Path:
        """The derived index of the journal at `journal_path` (a file inside the corpus folder)."""
        return self.journal_indexes / f"{self.file_key(journal_path)}.index"

    def lock(self, key: str) -> Path:
        """Where the lock of a corpus file lives (`key` from :meth:`file_key`, or a file name):
        under .curate/locks/, out of the way of git."""
        return self.index_dir / LOCKS_DIR / f"{key}.lock"

    @property
    def dedup_cache(self) -> Path:
        """`curate dedup`'s last clusters, reused while the files they came from are unchanged."""
        return self.index_dir / DEDUP_CACHE

    @property
    def uncertainty_scores(self) -> Path:
        """How unsure each snippet's latest suggestion is, written by `curate suggest` (curate/suggest/uncertainty.py)."""
        return self.index_dir / UNCERTAINTY_SCORES

    def place(self, annotator: str) -> Path:
        """Where `curate annotate` left this annotator (UI state, safe to lose; the name is not checked here)."""
        return self.index_dir / PLACES_DIR / f"{annotator}.json"

    def review_journal(self, adjudicator: str) -> Path:
        """An adjudicator's review journal (the name is not checked here)."""
        return self.index_dir / REVIEW_DIR / f"{adjudicator}.jsonl"
