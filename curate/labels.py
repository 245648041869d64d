"""Label renaming maps as typed on the command line (`--map-labels PER=PERSON`, `--label-map GPE=LOC,DATE=`).

One parser for both: `curate import` renames a file's labels, `curate suggest` maps a model's
labels to the corpus's, where an empty target drops the label (`DATE=`).
"""

from __future__ import annotations


def parse_label_map(spec: str | None, *, option: str = "--map-labels", form: str = "FROM=TO", drop: bool = False) -> dict[str, str]:
    """`PER=PERSON,LOC=GPE` as a mapping from one set of labels to another.

    Blank items are ignored. Every item must be `FROM=TO` with a non-empty FROM; an empty TO
    (`DATE=`, mapped to "") is taken only with `drop` (where the caller drops such labels), else
    refused. A ValueError names `option` and the item, e.g. `--map-labels: 'PER' is not FROM=TO`.
    """
    mapping: dict[str, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        source, separator, target = item.partition("=")
        if not separator or not source.strip() or not (target.strip() or drop):
            raise ValueError(f"{option}: {item.strip()!r} is not {form}")
        mapping[source.strip()] = target.strip()
    return mapping
