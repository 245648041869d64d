"""Awkward page texts and annotated pages shared by the export tests: CRLF, NBSP, zero-width
characters, ZWJ emoji, combining marks, credit lines."""

from __future__ import annotations

from curate.model import Annotation, BoilerplateRange, Entity, Snippet, Story
from curate.text import TextModel

NBSP = "\u00a0"
ZWSP = "\u200b"
ZWJ = "\u200d"
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
THUMBS = "\U0001F44D\U0001F3FD"
FLAG = "\U0001F1EC\U0001F1E7"
ENGLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"

# Texts the fast path takes: CRLF, NBSP, curly quotes, dashes, accents, ideographic space, U+2028.
PLAIN = [
    f"\u201cWe\u2019re close,\u201d said Kim{NBSP}Jong-un \u2014 at 10:30 \u2013 U.S. shares rose 2.5%.\r\n\r\n  Next\u2019s line\u2026",
    "Ana Mar\u00eda N\u00fa\u00f1ez\u3000in S\u00e3o Paulo\u2028said \u2018no\u2019 \u2010 twice\u2011over, 1,703 times.\r\n",
    "Plain ASCII: O'Brien's U.S.A. trip, 9km/h, e-mail -- done.\n\n\tTabbed line \x1c after a separator",
]
# Texts that need the full tokenizer: zero-width characters, ZWJ emoji, skin tones, flags, marks, BOM.
SPECIAL = [
    f"{FAMILY} and {THUMBS} {FLAG} zero{ZWSP}width \ufeffBOM {ZWJ} end\r\n{ENGLAND}",
    "Jose\u0301 Marti\u0301nez of Ver\u00adwaltung \u2060joined\u200c\r\n\u200b\r\nlast 1\ufe0f\u20e3",
    f"\u201cQuote\u201d{ZWSP}\u2019s{NBSP}\u00e9\u0301t\u00e9 \U0001F600!",
]



def tricky_pages() -> list[tuple[Snippet, Annotation]]:
    """Pages of two or three stories over the tricky texts, entities on words, a credit line."""
    pages = []
    texts = PLAIN + SPECIAL + ["ASCII only story.\nSecond ASCII story with Kim.\n", f"Hello there\n{ZWSP}\n", "Ünïcode \U0001F600 story\nand more"]
    for number, text in enumerate(texts):
        text = f"Photo: AP{NBSP}Kim\n" + text if number % 2 else text
        model = TextModel(text)
        starts = [paragraph.line_start for paragraph in model.paragraphs]
        cuts = [0] + starts[1:3]
        stories = [Story(start=start, end=end, truncated=index == 1) for index, (start, end) in enumerate(zip(cuts, cuts[1:] + [len(text)]))]
        boilerplate = []
        if text.startswith("Photo:"):
            boilerplate.append(BoilerplateRange(start=0, end=text.index("\n"), kind="credit"))
        words = [(start, end) for start, end in model.tokens if text[start:end][0].isalpha()]
        entities = [Entity(start=start, end=end, label=("PERSON", "GPE", "ORG")[index % 3]) for index, (start, end) in enumerate(words[::3])]
        # One entity over two tokens, where two words follow each other after one space.
        pairs = [(a, b) for a, b in zip(words, words[1:]) if text[a[1] : b[0]] == " " and not any(a[0] < e.end and e.start < b[1] for e in entities)]
        if pairs:
            (start, _), (_, end) = pairs[0]
            entities = sorted(entities + [Entity(start=start, end=end, label="ORG")], key=lambda e: e.start)
        if ZWSP + "\n" in text:  # a last story of only a zero-width space: no tokens
            stories = [Story(start=0, end=text.index(ZWSP), truncated=False), Story(start=text.index(ZWSP), end=len(text), truncated=True)]
        snippet_id = f"tricky-{number}"
        pages.append((Snippet(id=snippet_id, text=text), Annotation(snippet_id=snippet_id, annotator="gold", stories=stories, boilerplate=boilerplate, entities=entities, status="done")))
    return pages
