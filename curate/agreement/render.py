"""Rich tables of an :class:`AgreementReport`, readable in an 80-column terminal.

This is the terminal view of `curate agreement`, imported only by the CLI, and so one of the
few modules that import rich (building rich renderables is all it does); the figures and
names are written as in the `--report` page (`curate.agreement.report`).
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from curate.agreement.report import NONE_LABEL, figure, pair_name
from curate.agreement.service import AgreementReport
from curate.console import terminal_safe


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for number, column in enumerate(columns):
        table.add_column(Text(column), justify="left" if number == 0 else "right", no_wrap=number > 0)
    return table


def boundary_table(report: AgreementReport) -> Table:
    table = _table("Story boundaries (b against reference a)", "pair a · b", "n", "Pk ↓", "WinDiff ↓", "B", "κ")
    for pair in report.boundary_pairs:
        table.add_row(pair_name(pair.a, pair.b), str(pair.n), figure(pair.pk), figure(pair.windowdiff), figure(pair.boundary_similarity), figure(pair.kappa))
    table.caption = f"Krippendorff's α {figure(report.boundary_alpha)} · Fleiss' κ {figure(report.boundary_fleiss_kappa)} (snippets all did)"
    table.caption_justify = "left"
    return table


def entity_table(report: AgreementReport) -> Table:
    table = _table("Entities (exact span and label)", "pair a · b", "n", "P", "R", "F1", "F1 ovl", "tok κ")
    for pair in report.entity_pairs:
        table.add_row(pair_name(pair.a, pair.b), str(pair.n), figure(pair.precision), figure(pair.recall), figure(pair.f1), figure(pair.overlap_f1), figure(pair.token_kappa))
    table.caption = (
        f"F1 ovl: same-label spans that overlap · tok κ: kappa of token labels\n"
        f"token α {figure(report.entity_alpha)} · unitizing αu {figure(report.entity_alpha_u)} (snippets all did)"
    )
    table.caption_justify = "left"
    return table


def label_table(report: AgreementReport) -> Table:
    table = _table("Entities per label", "label", "pair a · b", "P", "R", "F1")
    for label in report.labels:
        for pair in report.entity_pairs:
            scores = pair.per_label.get(label)
            if scores is not None:
                table.add_row(Text(terminal_safe(label)), pair_name(pair.a, pair.b), *(figure(value) for value in scores))
    return table


def confusion_table(report: AgreementReport) -> Table | None:
    """Rows: the label of the reference ``a``; columns: the label ``b`` gave the same span."""
    matrix = report.confusion()
    used = [index for index in range(matrix.shape[0]) if matrix[index].any() or matrix[:, index].any()]
    if not used:
        return None
    names = [terminal_safe(name) for name in [*report.labels, NONE_LABEL]]
    table = _table("Label confusion, overlapping spans (rows a, columns b)", "a \\ b", *(names[index] for index in used))
    for row in used:
        cells = []
        for column in used:
            count = int(matrix[row, column])
            cell = str(count) if count else "·"
            style = "bold" if row == column else ("yellow" if count else "dim")
            cells.append(Text(cell, style=style))
        table.add_row(Text(names[row]), *cells)
    return table


def boilerplate_table(report: AgreementReport) -> Table:
    table = _table("Boilerplate (each paragraph's kind or none)", "pair a · b", "paragraphs", "agreement", "κ")
    for pair in report.boilerplate_pairs:
        table.add_row(pair_name(pair.a, pair.b), str(pair.paragraphs), figure(pair.agreement), figure(pair.kappa))
    table.caption = f"Krippendorff's α {figure(report.boilerplate_alpha)}"
    table.caption_justify = "left"
    return table


def ranking_table(report: AgreementReport) -> Table | None:
    if not report.ranking:
        return None
    table = _table("Most disagreed snippets", "snippet", "score", "disagreed", "annotators")
    for entry in report.ranking:
        table.add_row(Text(terminal_safe(entry.snippet_id)), figure(entry.score, 2), f"{entry.disagreements}/{entry.decisions}", ", ".join(entry.annotators))
    return table


def render(report: AgreementReport) -> Group:
    """Every table of the report, for ``console.print``."""
    heading = Text.assemble(
        ("Agreement", "bold"),
        f" · {len(report.annotators)} annotators · {report.snippets:,} snippet(s) done by two or more",
    )
    parts = [heading]
    if report.snippets == 0:
        parts.append(Text("Nothing to compare: no snippet is done by two of these annotators yet."))
        return Group(*parts)
    parts += [boundary_table(report), entity_table(report), label_table(report)]
    confusion = confusion_table(report)
    if confusion is not None:
        parts.append(confusion)
    parts.append(boilerplate_table(report))
    ranking = ranking_table(report)
    if ranking is not None:
        parts.append(ranking)
    for name, reason in report.left_out.items():
        parts.append(Text(f"left out {terminal_safe(name)}: {reason}", style="yellow"))
    for a, b in report.unshared:
        parts.append(Text(f"{pair_name(a, b)}: no snippet both did, no figures", style="yellow"))
    for name, ids in report.stale.items():
        shown = ", ".join(terminal_safe(sid) for sid in ids[:5]) + (" ..." if len(ids) > 5 else "")
        parts.append(Text(f"left out {len(ids)} record(s) of {name} whose snippet text changed: {shown}", style="yellow"))
    parts.append(Text("— undefined (for instance κ when every decision is the same)", style="dim"))
    return Group(*parts)
