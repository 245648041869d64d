"""`--report FILE.md|FILE.html`: the agreement tables as a page, with a confusion-matrix picture.

The picture is an SVG drawn here (no plotting dependency): inline in HTML, and beside a
Markdown page as ``FILE.confusion.svg`` (Markdown viewers do not render inline SVG).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from curate.agreement.service import AgreementReport
from curate.console import terminal_safe
from curate.store import atomic_write_bytes

REPORT_SUFFIXES = (".md", ".html", ".htm")
NONE_LABEL = "none"


def figure(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def pair_name(a: str, b: str) -> str:
    return f"{a} · {b}"


def tables(report: AgreementReport) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of every table, shared by the Markdown and HTML pages."""
    result = [
        (
            "Story boundaries (b against reference a)",
            ["pair a · b", "n", "Pk ↓", "WindowDiff ↓", "B", "kappa"],
            [[pair_name(p.a, p.b), str(p.n), figure(p.pk), figure(p.windowdiff), figure(p.boundary_similarity), figure(p.kappa)] for p in report.boundary_pairs],
            f"Krippendorff's alpha {figure(report.boundary_alpha)}; Fleiss' kappa {figure(report.boundary_fleiss_kappa)} (snippets all did).",
        ),
        (
            "Entities (exact span and label)",
            ["pair a · b", "n", "P", "R", "F1", "overlap F1", "token kappa"],
            [[pair_name(p.a, p.b), str(p.n), figure(p.precision), figure(p.recall), figure(p.f1), figure(p.overlap_f1), figure(p.token_kappa)] for p in report.entity_pairs],
            f"Token alpha {figure(report.entity_alpha)}; unitizing alpha_u {figure(report.entity_alpha_u)} (snippets all did).",
        ),
        (
            "Entities per label",
            ["label", "pair a · b", "P", "R", "F1"],
            [[terminal_safe(label), pair_name(p.a, p.b), *(figure(v) for v in p.per_label[label])] for label in report.labels for p in report.entity_pairs if label in p.per_label],
            "",
        ),
    ]
    matrix = report.confusion()
    names = [terminal_safe(name) for name in [*report.labels, NONE_LABEL]]
    used = _used(matrix)
    if used:
        result.append((
            "Label confusion of overlapping spans (rows a, columns b; all pairs)",
            ["a \\ b", *(names[i] for i in used)],
            [[names[r], *(str(int(matrix[r, c])) for c in used)] for r in used],
            "Spans matched one to one by overlap whatever their label; 'none': the other side has no span there.",
        ))
    result.append((
        "Boilerplate (each paragraph's kind or none)",
        ["pair a · b", "paragraphs", "agreement", "kappa"],
        [[pair_name(p.a, p.b), str(p.paragraphs), figure(p.agreement), figure(p.kappa)] for p in report.boilerplate_pairs],
        f"Krippendorff's alpha {figure(report.boilerplate_alpha)}.",
    ))
    if report.ranking:
        result.append((
            "Most disagreed snippets",
            ["snippet", "score", "disagreed", "annotators"],
            [[terminal_safe(e.snippet_id), figure(e.score, 2), f"{e.disagreements}/{e.decisions}", ", ".join(e.annotators)] for e in report.ranking],
            "Score: share of the snippet's decisions (story starts, truncations, boilerplate, entities) not shared by all its annotators.",
        ))
    return result


def _used(matrix: np.ndarray) -> list[int]:
    return [i for i in range(matrix.shape[0]) if matrix[i].any() or matrix[:, i].any()]


def confusion_svg(report: AgreementReport, cell: int = 44) -> str | None:
    """A heat map of the label confusion (darker: more spans), or None when there are no spans."""
    matrix = report.confusion()
    used = _used(matrix)
    if not used:
        return None
    names = [html.escape(terminal_safe(name)) for name in [*report.labels, NONE_LABEL]]
    margin = 90
    size = margin + cell * len(used) + 10
    peak = max(int(matrix[np.ix_(used, used)].max()), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + 20}" '
        f'viewBox="0 0 {size} {size + 20}" font-family="sans-serif" font-size="11">',
        f'<text x="{margin}" y="12">b (columns) against a (rows)</text>',
    ]
    for column_number, column in enumerate(used):
        x = margin + column_number * cell + cell / 2
        parts.append(f'<text x="{x}" y="{margin - 8}" transform="rotate(-35 {x} {margin - 8})">{names[column]}</text>')
    for row_number, row in enumerate(used):
        y = margin + row_number * cell
        parts.append(f'<text x="{margin - 6}" y="{y + cell / 2 + 4}" text-anchor="end">{names[row]}</text>')
        for column_number, column in enumerate(used):
            count = int(matrix[row, column])
            shade = count / peak
            x = margin + column_number * cell
            colour = f"rgb({int(255 - 200 * shade)},{int(255 - 150 * shade)},{int(255 - 60 * shade)})"
            stroke = "#333" if row == column else "#ccc"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour}" stroke="{stroke}"/>')
            text_colour = "#fff" if shade > 0.6 else "#000"
            parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" fill="{text_colour}">{count}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _markdown_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def stale_notes(report: AgreementReport) -> list[str]:
    """The notes under the heading: annotators and pairs without figures, records left out."""
    return [
        *(f"Left out {terminal_safe(name)}: {reason}." for name, reason in report.left_out.items()),
        *(f"{pair_name(a, b)}: no snippet both did, no figures." for a, b in report.unshared),
        *(
            f"Left out {len(ids)} record(s) of {name} whose snippet text changed: {', '.join(terminal_safe(sid) for sid in ids)}."
            for name, ids in report.stale.items()
        ),
    ]


def markdown_page(report: AgreementReport, svg_name: str | None) -> str:
    lines = [
        "# Inter-annotator agreement",
        "",
        f"Annotators: {', '.join(report.annotators) or 'none'}. "
        f"Snippets done by at least two: {report.snippets}. '—' marks an undefined figure.",
        "",
    ]
    for note in stale_notes(report):
        lines += [_markdown_cell(note), ""]
    for title, header, rows, note in tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(_markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
        lines += ["", note, ""] if note else [""]
    if svg_name:
        lines += ["## Label confusion", "", f"![Label confusion of overlapping spans]({svg_name})", ""]
    return "\n".join(lines)


def html_page(report: AgreementReport, svg: str | None) -> str:
    body = [
        "<h1>Inter-annotator agreement</h1>",
        f"<p>Annotators: {html.escape(', '.join(report.annotators) or 'none')}. "
        f"Snippets done by at least two: {report.snippets}. '—' marks an undefined figure.</p>",
        *(f"<p class='note'>{html.escape(note)}</p>" for note in stale_notes(report)),
    ]
    for title, header, rows, note in tables(report):
        body.append(f"<h2>{html.escape(title)}</h2><table><thead><tr>")
        body.append("".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        body.append("</tbody></table>")
        if note:
            body.append(f"<p class='note'>{html.escape(note)}</p>")
    if svg:
        body.append("<h2>Label confusion</h2>")
        body.append(svg)
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}th,td{padding:.2em .6em;border-bottom:1px solid #ddd}"
        "td:not(:first-child),th:not(:first-child){text-align:right}.note{color:#555}"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Agreement</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(report: AgreementReport, path: Path) -> list[Path]:
    """Write the page (atomically) and, for Markdown, its SVG beside it; the paths written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(f"{path}: the report must end in .md or .html")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: there is no folder {path.parent}; make it first")
    svg = confusion_svg(report)
    written = []
    if suffix == ".md":
        svg_name = None
        if svg:
            svg_path = path.with_name(path.stem + ".confusion.svg")
            atomic_write_bytes(svg_path, [svg.encode("utf-8")])
            written.append(svg_path)
            svg_name = svg_path.name
        page = markdown_page(report, svg_name)
    else:
        page = html_page(report, svg)
    atomic_write_bytes(path, [page.encode("utf-8")])
    written.insert(0, path)
    return written
