"""spaCy DocBins: on spaCy's own tokens (what `spacy debug data` and `spacy train` compare against), every entity kept."""

from __future__ import annotations

import pytest
import spacy
from export_fixtures import demo_corpus
from spacy.tokens import DocBin
from spacy.training import Example

from curate.export import export_corpus
from curate.export.rows import StoryRow, source_records, story_rows, story_tokens
from curate.formats.spacy import story_doc
from curate.store import Corpus


@pytest.fixture(scope="module")
def demo_docs(tmp_path_factory):
    root = tmp_path_factory.mktemp("spacy")
    corpus_dir = demo_corpus(root)
    report = export_corpus(corpus_dir, root / "out", source="demo", fmt="spacy", splits={"train": 0.8, "dev": 0.2})
    nlp = spacy.blank("en")
    docs = [doc for path in report.files for doc in DocBin().from_disk(path).get_docs(nlp.vocab)]
    with Corpus.open(corpus_dir) as corpus:
        stories = {story.id: story for snippet, record in source_records(corpus, "demo") for story in story_rows(snippet, record)}
    return nlp, docs, stories, report


def test_every_entity_of_the_demo_is_a_doc_entity_with_its_offsets(demo_docs):
    _, docs, stories, _ = demo_docs
    assert len(docs) == len(stories)
    total = 0
    for doc in docs:
        story = stories[doc.user_data["id"]]
        assert doc.text == story.text
        assert [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents] == story.entities
        total += len(story.entities)
    assert total > 700  # the demo's suggestions, none lost


def test_the_demo_docs_have_no_token_spacy_debug_data_calls_misaligned(demo_docs):
    """What `spacy debug data` counts: tokens of spaCy's tokenizer that are not exactly one token of the Doc."""
    nlp, docs, _, report = demo_docs
    misaligned = []
    for doc in docs:
        predicted = nlp.make_doc(doc.text)
        lengths = Example(predicted, doc).alignment.x2y.lengths
        misaligned += [token.text for token in predicted if not token.is_space and lengths[token.i] != 1]
    assert misaligned == []
    assert not [note for note in report.notes if "cuts spaCy's token" in note]


def test_an_entity_inside_a_spacy_token_is_kept_and_named():
    nlp = spacy.blank("en")
    text = "The deal was worth US$3.4 billion to Ex-Yahoo staff."
    assert "US$" in [token.text for token in nlp.make_doc(text)]  # spaCy keeps US$ whole; curate cuts US | $
    tokens = story_tokens(text)
    us = text.index("US")
    assert (us, us + 2) in tokens
    story = StoryRow("s#0", "s", 0, text, tokens, [(us, us + 2, "GPE")], False, [(tokens.index((us, us + 2)), tokens.index((us, us + 2)) + 1)])
    doc, notes = story_doc(nlp, story)
    assert doc.text == text
    assert [(ent.start_char, ent.end_char, ent.label_, ent.text) for ent in doc.ents] == [(us, us + 2, "GPE", "US")]
    assert [token.text for token in doc][4:7] == ["US", "$", "3.4"]
    assert notes == [f"s#0: entity 'US' [{us},{us + 2}) GPE cuts spaCy's token 'US$'; the Doc splits it there, which spaCy's own tokenizer will not (a misaligned token in `spacy debug data`)"]
