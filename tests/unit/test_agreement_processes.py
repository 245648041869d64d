"""Agreement read and compared by forked processes equals the report of one process."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from curate.agreement import agreement, service
from curate.agreement.marks import Marks, Texts, Vocabulary
from curate.ingest import ingest
from curate.model import Annotation, text_sha256
from curate.store import Corpus

LABELS = ["PERSON", "GPE"]


@pytest.fixture
def corpus_dir(tmp_path):
    rng = random.Random(11)
    words = "Ana Lopez met Ben in Lanport . the harbour plan was late , and the council voted 1,703".split()
    texts = {}
    for number in range(40):
        lines = [" ".join(rng.choices(words, k=rng.randint(3, 9))) for _ in range(rng.randint(1, 4))]
        if number % 7 == 0:
            lines.append("Caf\u00e9 d\u00e9ja\u0300 \U0001F600 Lanport")  # not plain: TextModel's layout
        texts[f"s{number:02d}"] = "\n".join(lines)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": snippet_id, "text": text}) + "\n" for snippet_id, text in texts.items()))
    ingest([source], tmp_path / "c", labels=LABELS)
    with Corpus.open(tmp_path / "c") as corpus:
        for name in ("ana", "ben", "cy"):
            with corpus.journal(name, writable=True) as journal:
                for snippet_id, text in texts.items():
                    if rng.random() < 0.15:
                        continue
                    starts = sorted({cut for cut in range(1, len(text)) if text[cut - 1] == "\n" and rng.random() < 0.5})
                    edges = [0, *starts, len(text)]
                    entities, boilerplate = [], []
                    for start in sorted(rng.sample(range(len(text)), min(4, len(text)))):
                        end = text.find(" ", start)
                        end = len(text) if end < 0 else end
                        if end > start and not (entities and start < entities[-1]["end"]) and not any(start < cut < end for cut in starts):
                            entities.append({"start": start, "end": end, "label": rng.choice(["PERSON", "GPE", "ORG", "EVENT"])})
                    if starts and rng.random() < 0.5:
                        boilerplate.append({"start": starts[-1], "end": len(text), "kind": "caption"})
                    journal.append(Annotation.model_validate({
                        "snippet_id": snippet_id, "annotator": name,
                        "status": "done" if rng.random() < 0.9 else "skipped",
                        "text_sha256": text_sha256(text if rng.random() < 0.9 else text + "!"),
                        "stories": [{"start": s, "end": e, "truncated": rng.random() < 0.2} for s, e in zip(edges, edges[1:])],
                        "entities": entities, "boilerplate": boilerplate,
                    }))
    return tmp_path / "c"


def everything(corpus_dir, processes):
    with Corpus.open(corpus_dir) as corpus:
        report = agreement(corpus, ranking_size=50, processes=processes)
    return (json.dumps(report.to_json(), sort_keys=True), report.ranking, report.stale, report.confusion().tolist(),
            report.labels, report.kinds, report.boilerplate_alpha, report.boilerplate_pairs, report.left_out, report.unshared)


def test_two_processes_reading_small_shares_give_the_report_of_one(corpus_dir, monkeypatch):
    one = everything(corpus_dir, 1)
    monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 6)
    two = everything(corpus_dir, 2)
    assert one[2] and set(one[4]) >= {"ORG", "EVENT"} and one[6] is not None  # stale records, labels met on reading, boilerplate
    assert two == one


def test_marks_from_journal_lines_equal_marks_from_annotations(corpus_dir):
    with Corpus.open(corpus_dir) as corpus:
        positions = np.arange(len(corpus))
        ids, texts = service.records.snippet_texts(corpus, positions)
        layout = Texts.from_texts(ids, texts)
        for name in corpus.annotators():
            with corpus.journal(name) as journal:
                indexes, decoded = service._done_records(journal, positions)
                from_lines = Marks.from_decoded(name, layout, indexes, decoded, Vocabulary(LABELS), Vocabulary(first_number=1), service._Digests(texts))
                annotations = {int(index): journal.record_at(int(index)) for index in indexes}
                from_models = Marks.from_records(name, layout, annotations, Vocabulary(LABELS), Vocabulary(first_number=1), service._Digests(texts))
            for field in ("done", "story_starts", "truncated_ends", "entity_start", "entity_end", "entity_label",
                          "boilerplate_start", "boilerplate_end", "boilerplate_kind"):
                assert getattr(from_lines, field).tolist() == getattr(from_models, field).tolist(), field
            assert from_lines.stale == from_models.stale
            for field in ("story_starts", "entity_start"):  # each record's snippet, known without a search
                assert from_lines._snippets[field].tolist() == layout.snippet_of(getattr(from_lines, field)).tolist()


def test_marks_of_shares_laid_end_to_end_know_their_snippets(corpus_dir):
    with Corpus.open(corpus_dir) as corpus:
        shares = np.array_split(np.arange(len(corpus)), 3)
        texts_parts, marks_parts = [], []
        for share in shares:
            ids, texts = service.records.snippet_texts(corpus, share)
            layout = Texts.from_texts(ids, texts)
            with corpus.journal("ana") as journal:
                indexes, decoded = service._done_records(journal, share)
                marks_parts.append(Marks.from_decoded("ana", layout, indexes, decoded, Vocabulary(LABELS), Vocabulary(first_number=1)))
            texts_parts.append(layout)
    whole_texts = Texts.concatenate(texts_parts)
    whole = Marks.concatenate(marks_parts, texts_parts)
    assert whole.entity_start.size and whole.story_starts.size
    for field in ("story_starts", "entity_start"):
        assert whole._snippets[field].tolist() == whole_texts.snippet_of(getattr(whole, field)).tolist()


def test_marks_need_the_layout_the_texts_were_read_without():
    texts = Texts.from_texts(["a"], ["Ana met Ben"]).without_tokens_and_paragraphs()
    marks = Marks.from_records("ana", texts, {0: {"stories": [{"start": 0, "end": 11}], "entities": [{"start": 0, "end": 3, "label": "PERSON"}]}}, Vocabulary(LABELS), Vocabulary(first_number=1))
    with pytest.raises(ValueError, match="without tokens"):
        marks.token_labels(texts)


def test_profiles_worked_out_while_reading_give_the_figures_of_the_marks(corpus_dir):
    """Per-token labels and paragraph kinds are folded into profiles while reading and let go;
    the figures from those profiles equal the figures from the marks' own arrays."""
    with Corpus.open(corpus_dir) as corpus:
        comparison = service.read_comparison(corpus, processes=1)
        assert comparison.tokens is not None and comparison.paragraphs is not None
        assert all(mark._token_labels is None and mark._paragraph_kinds is None for mark in comparison.marks)
        from_profiles = service.compare_marks(comparison, 50, processes=1)
        comparison.tokens = comparison.paragraphs = None
        from_marks = service.compare_marks(comparison, 50, processes=1)
    assert from_profiles.boilerplate_alpha is not None and from_profiles.entity_pairs[0].token_kappa is not None
    assert json.dumps(from_profiles.to_json()) == json.dumps(from_marks.to_json())
    assert from_profiles.boilerplate_pairs == from_marks.boilerplate_pairs and from_profiles.boilerplate_alpha == from_marks.boilerplate_alpha


def test_snippet_ids_packed_give_back_every_id():
    from curate.agreement.marks import SnippetIds

    ids = ["s1", "caf\u00e9-\U0001F600", "x" * 300, "", "\u2028id"]
    packed = SnippetIds.of(ids)
    assert list(packed) == ids and len(packed) == 5 and packed[-1] == ids[-1] and packed[1:3] == ids[1:3]
    joined = SnippetIds.concatenate([SnippetIds.of(ids[:2]), SnippetIds.of([]), SnippetIds.of(ids[2:])])
    assert list(joined) == ids and joined == packed
    with pytest.raises(IndexError):
        packed[5]


def test_journals_a_quick_scan_indexed_are_validated_once_before_the_reading_processes(corpus_dir, tmp_path, monkeypatch):
    import os

    from curate.store import CorpusLayout, scan
    from curate.store.journal import Journal

    one = everything(corpus_dir, 1)
    for path in CorpusLayout(corpus_dir).journal_indexes.glob("*"):
        path.unlink()
    monkeypatch.setattr(scan, "QUICK_SCAN_BYTES", 0)  # journals indexed by a quick scan
    rebuilt = tmp_path / "rebuilt"
    real_rebuild = Journal.rebuild

    def rebuild(self):
        with rebuilt.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        real_rebuild(self)

    monkeypatch.setattr(Journal, "rebuild", rebuild)
    monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 6)
    two = everything(corpus_dir, 2)
    assert two == one
    # Never in the readers; here at most once per journal (none whose every line is a record
    # the index places: the readers validate those records, see test_strict_agreement.py).
    pids = rebuilt.read_text().split() if rebuilt.exists() else []
    assert set(pids) <= {str(os.getpid())} and len(pids) <= 3
    with Corpus.open(corpus_dir) as corpus:
        assert all(corpus.journal(name).index.checked for name in corpus.annotators())


def test_entity_labels_are_kept_in_16_bits_while_they_fit():
    from curate.agreement.compare import label_confusion

    texts = Texts.from_texts(["a"], ["Ana met Ben"])
    record = {"stories": [{"start": 0, "end": 11}], "entities": [{"start": 0, "end": 3, "label": "L39999"}, {"start": 8, "end": 11, "label": "GPE"}]}
    few = Marks.from_records("ana", texts, {0: record}, Vocabulary(LABELS), Vocabulary(first_number=1))
    assert few.entity_label.dtype == np.int16 and few.entity_label.tolist() == [2, 1]
    many = Marks.from_records("ana", texts, {0: record}, Vocabulary([f"L{number}" for number in range(40000)]), Vocabulary(first_number=1))
    assert many.entity_label.dtype == np.int64 and many.entity_label.tolist() == [39999, 40000]
    labels = np.array([300, 299], dtype=np.int16)  # 300 * 301 overflows 16 bits: counted widened
    confusion = label_confusion(np.array([0, 5]), np.array([3, 8]), labels, np.array([0, 5]), np.array([3, 8]), labels[::-1].copy(), 301)
    assert confusion[300, 299] == 1 and confusion[299, 300] == 1 and confusion.sum() == 2


def test_readers_use_the_corpus_and_journals_the_parent_opened(corpus_dir, tmp_path, monkeypatch):
    import os

    from curate.store.journal import Journal

    one = everything(corpus_dir, 1)
    opened = tmp_path / "opened"
    real_init = Journal.__init__

    def init(self, *arguments, **options):
        with opened.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        real_init(self, *arguments, **options)

    monkeypatch.setattr(Journal, "__init__", init)
    monkeypatch.setattr(service, "READ_CHUNK_SNIPPETS", 6)  # 7 shares between two readers
    two = everything(corpus_dir, 2)
    assert two == one
    assert opened.read_text().split() == [str(os.getpid())] * 3  # once each, here: for the statuses and the readers
    assert service._shared_reading == {}
    # Without the parent's (a reader started some other way), a reader opens its own.
    with Corpus.open(corpus_dir) as corpus:
        names = corpus.annotators()
        alone = service._read_part_at(str(corpus_dir), names, np.arange(10), True)
    assert len(alone[1]) == len(names) and alone[4] is not None
