"""Rule rewards in the style of verl's reward functions."""

from __future__ import annotations

import re

CONCLUSION = re.compile(r"conclusion\s*[:：]?\s*[*_`\s]*\b(right|wrong)\b[*_`\s.]*(?:\[\s*end\s*\])?", re.IGNORECASE)


def parse_conclusion(solution_str: str) -> str | None:
    """`right` / `wrong` from the last "Conclusion: right|wrong [END]" in a critique, else None.

    Tolerates case, markdown emphasis, a missing `[END]` and text after it.
    """
    matches = CONCLUSION.findall(solution_str or "")
    return matches[-1].lower() if matches else None


def critique_reward(solution_str: str, ground_truth: str) -> float:
    """1.0 when the critique's conclusion matches `ground_truth` ("right"/"wrong"), else 0.0.

    A critique with no parseable conclusion scores 0.0, so the format is learned too.
    """
    verdict = parse_conclusion(solution_str)
    return 1.0 if verdict is not None and verdict == ground_truth.strip().lower() else 0.0
