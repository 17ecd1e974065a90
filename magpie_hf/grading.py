"""The grading helpers at their documented path (`from magpie_hf.grading import is_equivalent`).

They live in `magpie_hf.math.grading`; this module re-exports them.
"""

from magpie_hf.math.grading import (
    Verdict,
    extract_answer,
    grade_many,
    grade_rows,
    is_equivalent,
    majority_answer,
    restates_question,
)

__all__ = [
    "Verdict",
    "extract_answer",
    "grade_many",
    "grade_rows",
    "is_equivalent",
    "majority_answer",
    "restates_question",
]
