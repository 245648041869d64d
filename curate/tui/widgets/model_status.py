"""The header's model part (curate annotate's learning loop): which model suggests, how many
snippets it learned from, and whether a fit is running."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from curate.tui.widgets.status import HeaderPart

if TYPE_CHECKING:
    from curate.learning_loop import LearningLoop

# Dropped after the counts (same rank, later in the line) and before the corpus name.
MODEL_PART_DROP = 4


def model_part(loop: "LearningLoop") -> HeaderPart:
    """`model 1a2b3c4d (23 snippets)`, `no model yet`, then `learning…` while a fit runs, or
    `fit failed` (the message line says why)."""
    text = Text()
    state = loop.state
    if state is None:
        text.append("no model yet", style="dim")
    else:
        text.append("model ", style="dim")
        text.append(state.version, style="bold")
        text.append(f" ({state.examples} snippets)", style="dim")
    if loop.running:
        text.append(" learning…", style="yellow")
    elif loop.last is not None and loop.last.kind == "failed" and not loop.stopped:
        text.append(" fit failed", style="red")  # why: on the message line (AnnotateScreen.say)
    return HeaderPart(text, MODEL_PART_DROP)
