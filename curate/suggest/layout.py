"""Cues read from the shape of one line: datelines, headlines, credits, bylines, cut-off endings.

Each function takes the text of one paragraph (or a range of the snippet) and answers from
its surface alone, so the boilerplate, truncation and story-start proposers share them.
"""

from __future__ import annotations

import re

_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_PLACE = r"[A-Z][A-Za-z.'\-]*(?:\s+[A-Z][A-Za-z.'\-]*){0,3}"
_DATE = rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|{_MONTHS}\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?)"
_AGENCY = r"\((?:Reuters|AP|AFP|UPI|Bloomberg|dpa|Xinhua|IANS|PTI|ANI|CNN|BBC)\)"

# A whole line that is a dateline: "LONDON 1996-08-30", "MILWAUKEE, Wisconsin 1996-08-29".
_DATELINE_LINE = re.compile(rf"^{_PLACE}(?:,\s*{_PLACE})?\s*[,\-\u2013\u2014]?\s*{_DATE}\s*$")
# A dateline opening a paragraph: "PARIS (Reuters) - ", "BEIJING, June 5 (AP) \u2014 ".
_DATELINE_PREFIX = re.compile(
    rf"^[A-Z][A-Z.'\-]+(?:\s+[A-Z][A-Z.'\-]+){{0,3}}(?:,\s*{_PLACE})?(?:,?\s*{_DATE})?\s*(?:{_AGENCY})?\s*[-\u2013\u2014]+\s+"
)
_CREDIT = re.compile(
    r"^(?:\(?\s*(?:Photo|Photos|Photograph|Picture|Image|Images|Video|Graphic|Illustration|Credit|Source)"
    r"(?:\s+credit)?\s*[:/]|\((?:AP|AFP|Reuters|Getty)[^)]*Photo[^)]*\)$|(?:Getty Images|Shutterstock)\b)",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(?:By|Written by|Reporting by|Story by)\s+[A-Z][\w.'\-]+(?:\s+[A-Z][\w.'\-]+){0,4}(?:\s*(?:,|and|&)\s*[\w .'\-]+)?$")
_CONTACT = re.compile(r"^--\s*\S.*(?:\+?\d[\d\s\-()]{6,}|newsroom|desk)", re.IGNORECASE)
_NAVIGATION = re.compile(
    r"^(?:advertisement|sponsored|read more|related|share this|subscribe|sign up|click here|continue reading|"
    r"see also|most read|follow us|skip to content|back to top)\b.{0,40}$",
    re.IGNORECASE,
)
_NAME_LINE = re.compile(r"^[A-Z][a-z]*[A-Z]?[a-z'\-]+(?:\s+[A-Z][a-z]*[A-Z]?[a-z'\-]+){1,2}$")
# A place in capitals, optionally with its region: "DUBLIN", "ARLINGTON, Texas".
_CAPITAL = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_PLACE_LINE = re.compile(rf"^[{_CAPITAL}][{_CAPITAL}.'\-]+(?:\s+[{_CAPITAL}][{_CAPITAL}.'\-]+){{0,3}}(?:,\s*[{_CAPITAL}][^\W\d_]+(?:\s+[{_CAPITAL}][^\W\d_]+)?)?$")

SENTENCE_END_CHARS = ".!?\u2026\"'\u201d\u2019)]"
_WORD = re.compile(r"[^\W\d_]+")


def is_dateline(line: str) -> bool:
    """A whole line giving only a place and a date, or a place and a dash ("NAIROBI, Kenya —")."""
    stripped = line.strip()
    if len(stripped) > 80:
        return False
    if _DATELINE_LINE.match(stripped):
        return True
    return stripped[-1:] in ("-", "\u2013", "\u2014") and bool(_PLACE_LINE.match(stripped[:-1].rstrip()))


def dateline_prefix_end(line: str) -> int:
    """Length of a dateline opening the line ("PARIS (Reuters) - "), or 0."""
    match = _DATELINE_PREFIX.match(line)
    if match is None or len(match.group()) > 80:
        return 0
    head = match.group()
    # A capitalised first word alone ("THE - ") is not a place and date.
    return match.end() if (re.search(_DATE, head) or re.search(_AGENCY, head)) else 0


def is_place_line(line: str) -> bool:
    """A place name in capitals and nothing else: a dateline whose date was cut off."""
    return len(line) <= 60 and bool(_PLACE_LINE.match(line.strip()))


def is_name_line(line: str) -> bool:
    """Two or three capitalised words and nothing else, like a byline without "By"."""
    return bool(_NAME_LINE.match(line.strip()))


def boilerplate_kind(line: str) -> str | None:
    """The boilerplate kind of a whole line, or None when it is story text."""
    stripped = line.strip()
    if not stripped:
        return None
    if is_dateline(stripped):
        return "dateline"
    if len(stripped) <= 200 and _CREDIT.match(stripped):
        return "credit"
    if len(stripped) <= 120 and (_BYLINE.match(stripped) or _CONTACT.match(stripped)):
        return "byline"
    if _NAVIGATION.match(stripped):
        return "navigation"
    return None


def words(line: str) -> list[str]:
    return _WORD.findall(line)


def uppercase_ratio(line: str) -> float:
    """Share of letters that are capitals."""
    letters = [char for char in line if char.isalpha()]
    if not letters:
        return 0.0
    return sum(char.isupper() for char in letters) / len(letters)


def is_headline(line: str) -> bool:
    """Short, and either in capitals or without a final full stop while most words are capitalised."""
    stripped = line.strip()
    line_words = words(stripped)
    if not line_words or len(line_words) > 20 or len(stripped) > 160:
        return False
    numbers = len(re.findall(r"\d+", stripped))
    if numbers > 2 or numbers * 3 > len(line_words):
        return False  # a row of a results table
    if uppercase_ratio(stripped) >= 0.7 and len(line_words) >= 2:
        return True
    if stripped[-1] in ".!?,;:\"\u201d":
        return False
    capitalised = sum(word[0].isupper() for word in line_words)
    return len(line_words) >= 3 and capitalised / len(line_words) >= 0.6


def is_prose(line: str) -> bool:
    """Running text: at least six words, mostly starting in lower case after the first."""
    line_words = words(line)
    if len(line_words) < 6:
        return False
    lower = sum(word[0].islower() for word in line_words[1:])
    return lower / (len(line_words) - 1) >= 0.4


def ends_mid_sentence(line: str) -> bool:
    """Prose that stops without closing its sentence, or trails off with an ellipsis."""
    stripped = line.rstrip()
    if not stripped:
        return False
    if stripped.endswith("...") or stripped.endswith("\u2026"):
        return True
    if not is_prose(stripped):
        return False
    return stripped[-1] not in SENTENCE_END_CHARS
