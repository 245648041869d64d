"""Inter-annotator agreement: metrics (pure), comparison of records, report and ranking.

Public entry points:

- :func:`agreement` - every figure of docs/data-contract.md for a corpus (``AgreementReport.to_json()``);
- :func:`snippet_disagreement` - one snippet's disagreement score from its records;
- :func:`disagreement_ranking` - a corpus's compared snippets, most disagreed first.
"""

from curate.agreement.disagreement import snippet_disagreement
from curate.agreement.service import (
    AgreementError,
    AgreementReport,
    SnippetDisagreement,
    agreement,
    disagreement_ranking,
)

__all__ = [
    "AgreementError",
    "AgreementReport",
    "SnippetDisagreement",
    "agreement",
    "disagreement_ranking",
    "snippet_disagreement",
]
