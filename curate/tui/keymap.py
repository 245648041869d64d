"""The annotation keys (the README's key table) and the user's keymap file.

Every binding has an id; a user remaps one by id in `keymap.toml`::

    # ~/.config/curate/keymap.toml  (or $XDG_CONFIG_HOME/curate/keymap.toml, or $CURATE_KEYMAP)
    [keys]
    label-1 = "e"               # PERSON on `e` instead of `1`
    cursor-down = "j,down,ctrl+n"

The file is read without Textual, so its errors are reported before the screen opens.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KeySpec:
    """One binding: id (for remapping), default keys, action, description, footer visibility."""

    id: str
    keys: str
    action: str
    description: str
    show: bool = False
    key_display: str | None = None
    group: str = "edit"
    short: str | None = None


ANNOTATE_KEYS: tuple[KeySpec, ...] = (
    KeySpec("cursor-left", "left,h", "move(-1)", "Previous token", group="move"),
    KeySpec("cursor-right", "right,l", "move(1)", "Next token", group="move"),
    KeySpec("cursor-up", "up,k", "move_line(-1)", "Token on the line above", group="move"),
    KeySpec("cursor-down", "down,j", "move_line(1)", "Token on the line below", group="move"),
    KeySpec("paragraph-next", "]", "paragraph(1)", "First token of the next paragraph", group="move"),
    KeySpec("paragraph-previous", "[", "paragraph(-1)", "First token of this paragraph (from there: of the previous one)", group="move"),
    KeySpec("story-next", "}", "story(1)", "First token of the next story", group="move"),
    KeySpec("story-previous", "{", "story(-1)", "First token of this story (from there: of the previous one)", group="move"),
    KeySpec("select-left", "shift+left", "select(-1)", "Extend the selection one token left (within its paragraph)", group="move"),
    KeySpec("select-right", "shift+right", "select(1)", "Extend the selection one token right (within its paragraph)", group="move"),
    KeySpec("select-up", "shift+up", "select_line(-1)", "Extend the selection a line up (within its paragraph)", group="move"),
    KeySpec("select-down", "shift+down", "select_line(1)", "Extend the selection a line down (within its paragraph)", group="move"),
    KeySpec("clear-selection", "escape", "clear_selection", "Drop the selection", group="move"),
    KeySpec("page-down", "pagedown", "page(1)", "Scroll a page down", group="move"),
    KeySpec("page-up", "pageup", "page(-1)", "Scroll a page up", group="move"),
    KeySpec("entity-next", "g", "entity(1)", "First token of the next entity", group="move"),
    KeySpec("entity-previous", "G", "entity(-1)", "First token of the previous entity (from inside one: of this one)", group="move"),
    KeySpec("suggestion-next", "r", "review(1)", "Accept the suggested items under the cursor, go to the next suggested item not yet reviewed", group="move"),
    KeySpec("suggestion-previous", "R", "review(-1)", "Accept the suggested items under the cursor, go to the previous one not yet reviewed", group="move"),
    KeySpec("name-next", "o", "name(1)", "Select the next run of capitalised tokens without a label", group="move"),
    KeySpec("name-previous", "O", "name(-1)", "Select the previous run of capitalised tokens without a label", group="move"),
    KeySpec("check-next", "i", "check(1)", "Next place likely to need a fix: a name without a label (selected) or an entity in doubt", group="move"),
    KeySpec("check-previous", "I", "check(-1)", "Previous place likely to need a fix (from the end of a selected name: its start)", group="move"),
    KeySpec("search-forward", "/", "search_prompt(False)", "Search forward in this snippet (enter alone: the last search)", group="move"),
    KeySpec("search-backward", "backslash", "search_prompt(True)", "Search backward in this snippet", group="move", key_display="\\"),
    KeySpec("search-repeat", ";", "search_again(False)", "Repeat the last search, same direction", group="move"),
    KeySpec("search-repeat-reverse", "comma", "search_again(True)", "Repeat the last search, other direction", group="move", key_display=","),
    KeySpec("search-token-forward", "*", "search_token(False)", "Next occurrence of the entity or token under the cursor (whole tokens, same case)", group="move"),
    KeySpec("search-token-backward", "#", "search_token(True)", "Previous occurrence of the entity or token under the cursor", group="move"),
    *(
        KeySpec(f"label-{digit}", str(digit), f"label('{digit}')", f"Label (or relabel) with the label on key {digit}")
        for digit in range(1, 10)
    ),
    KeySpec("entity-grow-start", "(", "resize('start', -1)", "Move the start of the entity under the cursor one token left (grow)"),
    KeySpec("entity-shrink-start", ")", "resize('start', 1)", "Move the start of the entity under the cursor one token right (shrink)"),
    KeySpec("entity-shrink-end", "<", "resize('end', -1)", "Move the end of the entity under the cursor one token left (shrink)"),
    KeySpec("entity-grow-end", ">", "resize('end', 1)", "Move the end of the entity under the cursor one token right (grow)"),
    KeySpec("remove-entity", "x", "remove_entity", "Remove the entity under the cursor (or in the selection)", True, short="remove"),
    KeySpec("label-all", "=", "label_all", "Label every other occurrence of this entity alike", True, "=", short="label all"),
    KeySpec("story-start", "b", "toggle_story_start", "Toggle a story start at this sentence", True, short="story"),
    KeySpec("boilerplate", "c", "toggle_boilerplate", "Toggle this paragraph as boilerplate", True, short="boilerplate"),
    KeySpec("boilerplate-kind", "C", "choose_boilerplate_kind", "Mark this paragraph as boilerplate or change its kind: C, then the kind's number"),
    KeySpec("truncated", "t", "toggle_truncated", "Toggle this story as truncated", True, short="truncated"),
    KeySpec("copy-twin", "T", "copy_twin", "Copy the story start, boilerplate, truncation and entities of this story's annotated near twin (the status line names it)"),
    KeySpec("done", "enter", "done", "Mark done and go to the next snippet", True, "⏎", group="snippet", short="done"),
    KeySpec("skip", "s", "skip", "Skip this snippet", True, group="snippet", short="skip"),
    KeySpec("flag", "f", "flag", "Flag this snippet with a note", True, group="snippet", short="flag"),
    KeySpec("next-snippet", "n", "step(1)", "Next snippet in the queue", True, group="snippet", short="next"),
    KeySpec("previous-snippet", "p", "step(-1)", "Previous snippet in the queue", True, group="snippet", short="prev"),
    KeySpec("undo", "u,ctrl+z", "undo", "Undo the last change to this snippet", True, group="snippet", short="undo"),
    KeySpec("redo", "ctrl+y", "redo", "Redo", False, group="snippet"),
    KeySpec("help", "?", "help", "All keys", True, "?", group="app", short="help"),
    KeySpec("quit", "q", "quit", "Quit (saving first; asks before losing a change that cannot be saved)", True, group="app", short="quit"),
)

# The review screen has every annotation key (they edit the gold record directly) and these.
REVIEW_KEYS: tuple[KeySpec, ...] = (
    KeySpec("disagreement-next", "d", "disagreement(1)", "Go to the next disagreement not yet resolved", True, group="review", short="next disagreement"),
    KeySpec("disagreement-previous", "D", "disagreement(-1)", "Go to the previous disagreement not yet resolved", False, group="review"),
    KeySpec("take-majority", "m", "take_majority(False)", "Take the majority choice for what is under the cursor", True, group="review", short="majority"),
    KeySpec("take-majority-all", "M", "take_majority(True)", "Take the majority choice for every disagreement of the snippet", False, group="review"),
    KeySpec("take-annotator", "a", "take_annotator(False)", "Take one annotator's choice for what is under the cursor", True, group="review", short="take one's"),
    KeySpec("take-annotator-all", "A", "take_annotator(True)", "Take one annotator's whole record for the snippet", False, group="review"),
)

KNOWN_IDS = frozenset(spec.id for spec in (*ANNOTATE_KEYS, *REVIEW_KEYS))

# Annotation keys that make no sense in review: flagging is an annotator's word to the reviewer
# (`s` leaves a snippet for later instead); copying a twin's marks is for annotating (review
# starts from the annotators' records).
_NOT_IN_REVIEW = frozenset({"flag", "copy-twin"})
_REVIEW_WORDING = {
    "done": ("Accept: write the snippet to gold.jsonl and go on", "accept"),
    "skip": ("Leave the snippet for later and go on", "later"),
    "next-snippet": ("Next snippet to review", "next"),
    "previous-snippet": ("Previous snippet to review", "prev"),
}


def _for_review(spec: KeySpec) -> KeySpec:
    wording = _REVIEW_WORDING.get(spec.id)
    if wording is None:
        return spec
    return KeySpec(spec.id, spec.keys, spec.action, wording[0], spec.show, spec.key_display, spec.group, wording[1])


# Every key of the review screen: review's own, then the annotation keys that apply there.
REVIEW_SCREEN_KEYS: tuple[KeySpec, ...] = (
    *REVIEW_KEYS,
    *(_for_review(spec) for spec in ANNOTATE_KEYS if spec.id not in _NOT_IN_REVIEW),
)

SCREEN_KEYS: dict[str, tuple[KeySpec, ...]] = {"annotate": ANNOTATE_KEYS, "review": REVIEW_SCREEN_KEYS}

# Keys the app itself answers before any screen does.
_APP_KEYS = {"ctrl+q": ("quit", "quit the app (as q does)"), "ctrl+p": ("", "the command palette")}
_MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})


class KeymapError(Exception):
    """The user's keymap file cannot be used; the message names the file."""


def keymap_path() -> Path:
    """Where the user's keymap lives: $CURATE_KEYMAP, else the XDG config folder."""
    explicit = os.environ.get("CURATE_KEYMAP")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "curate" / "keymap.toml"


def load_keymap(path: Path | None = None, screen: str = "annotate") -> dict[str, str]:
    """Binding id -> keys (comma-separated) from the keymap file; empty when there is none.

    Refused (KeymapError naming the file and the binding id): an unknown id, a key name
    Textual does not know, and a key given to two bindings of `screen` (or taken by the app).
    """
    path = keymap_path() if path is None else path
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise KeymapError(f"{path}: {error}") from None
    table = data.get("keys", data)
    if not isinstance(table, dict):
        raise KeymapError(f"{path}: [keys] must be a table of binding id = \"key,key\"")
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if binding_id not in KNOWN_IDS:
            known = ", ".join(sorted(KNOWN_IDS))
            raise KeymapError(f"{path}: unknown binding id {binding_id!r}; known ids: {known}")
        if not isinstance(keys, str) or not keys.strip():
            raise KeymapError(f"{path}: {binding_id} must be a string of keys such as \"j,down\"")
        names = [key.strip() for key in keys.split(",")]
        for name in names:
            if not is_key_name(name):
                raise KeymapError(
                    f"{path}: {binding_id} = {keys!r}: {name!r} is not a key name "
                    "(a single character, or a name such as enter, escape, left, pagedown, f5, space, "
                    "question_mark, with modifiers such as ctrl+ or shift+)"
                )
        keymap[binding_id] = ",".join(names)
    check_conflicts(keymap, SCREEN_KEYS[screen], path, screen)
    return keymap


def is_key_name(name: str) -> bool:
    """True for a key Textual can deliver: a character or a key name, after modifiers."""
    if len(name) == 1:
        return name.isprintable() and not name.isspace()
    *modifiers, base = name.split("+") if not name.endswith("++") else [*name[:-2].split("+"), "+"]
    if any(modifier not in _MODIFIERS for modifier in modifiers):
        return False
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys, key_to_character

    named = {key.value.rpartition("+")[2] for key in Keys}
    return base in named or base in KEY_NAME_REPLACEMENTS.values() or key_to_character(base) is not None


def _canonical(name: str) -> str:
    """One spelling per key, for finding two bindings on it: `?` and `question_mark` alike."""
    from textual.keys import KEY_ALIASES, _character_to_key, key_to_character

    if len(name) == 1:
        return _character_to_key(name)
    character = key_to_character(name)
    if character is not None and len(character) == 1:
        return _character_to_key(character)
    for key, aliases in KEY_ALIASES.items():
        if name in aliases:
            return key
    return name


def check_conflicts(keymap: dict[str, str], specs: tuple[KeySpec, ...], path: Path, screen: str = "annotate") -> None:
    """Raise KeymapError when, after the keymap, one key of the screen does two things."""
    owner: dict[str, str] = {}
    for spec in specs:
        for name in keys_of(spec, keymap).split(","):
            key = _canonical(name.strip())
            if key in _APP_KEYS and _APP_KEYS[key][0] != spec.action:
                raise KeymapError(f"{path}: {spec.id} = {name!r}: {name} is {_APP_KEYS[key][1]}; choose another key")
            other = owner.get(key)
            if other is not None and other != spec.id:
                mine = spec.id if spec.id in keymap else other
                theirs = other if mine == spec.id else spec.id
                raise KeymapError(
                    f"{path}: {mine} = {keymap.get(mine, name)!r}: key {name!r} is already bound to "
                    f"{theirs} on the {screen} screen; give one of them another key"
                )
            owner[key] = spec.id


def bindings(specs: tuple[KeySpec, ...] = ANNOTATE_KEYS):
    """The specs as Textual Bindings (imported here so this module loads without Textual).

    The footer shows bindings in this order: `?` and `q` come first, so a narrow footer still
    says where every other key is.
    """
    from textual.binding import Binding

    ordered = sorted(specs, key=lambda spec: spec.group != "app")
    return [
        Binding(spec.keys, spec.action, spec.short or spec.description, show=spec.show, key_display=spec.key_display, id=spec.id, tooltip=spec.description)
        for spec in ordered
    ]


def keys_of(spec: KeySpec, keymap: dict[str, str]) -> str:
    """The keys a binding answers to after the user's keymap, for help and the README."""
    return keymap.get(spec.id, spec.keys)
