"""Everyday answer forms: currency signs, mixed numbers, grouped thousands, Python powers; each both ways."""

from __future__ import annotations

import pytest

from magpie_hf.math.grading import is_equivalent

EQUAL = [
    # currency signs
    ("\\$10", "10"),
    ("\\$16386.17", "16386.17"),
    ("-\\$5", "-5"),
    ("\\$1{,}000", "1000"),
    ("\\text{\\$}10", "10"),
    ("10\\text{ dollars}", "\\$10"),
    ("€5", "5"),
    ("£12.50", "12.5"),
    ("\\euro 5", "5"),
    # mixed numbers
    ("4 4/9", "40/9"),
    ("4 4/9", "\\frac{40}{9}"),
    ("4\\frac{4}{9}", "40/9"),
    ("4 \\frac{4}{9}", "4 4/9"),
    ("-3 1/2", "-3.5"),
    ("$2 3/4$", "2.75"),
    # thousands grouped by a space, a thin space or {,}
    ("1 000", "1000"),
    ("12 345 678", "12345678"),
    ("1 000.5", "1000.5"),
    ("1\\,000", "1000"),
    ("1\\ 000", "1000"),
    ("1\u2009000", "1000"),
    ("1\u202f000", "1000"),
    ("1\u00a0000", "1000"),
    ("1{,}000", "1000"),
    ("1{,}000{,}000", "10^6"),
    ("\\$1\\,250", "1250"),
    # Python's power
    ("x^2", "x**2"),
    ("x^{3}+1", "x ** 3 + 1"),
]

UNEQUAL = [
    ("1 2", "12"),  # not a group of three: no thousands
    ("1 0000", "10000"),
    ("(1, 000)", "1000"),  # a tuple stays a tuple
    ("(1, 000)", "1{,}000"),
    ("3 1/2", "3/2"),  # a mixed number is a sum, not a product or a bare fraction
    ("3 1/2", "1.5"),
    ("x + 1 2/3", "x + 5/3"),  # inside a larger expression nothing is read as a mixed number
    ("\\$10", "100"),
    ("4 4/9", "4"),
    ("x^2", "x**3"),
]


@pytest.mark.parametrize("gold, answer", EQUAL)
def test_equal_forms_both_ways(gold, answer):
    assert is_equivalent(gold, answer) is True
    assert is_equivalent(answer, gold) is True


@pytest.mark.parametrize("gold, answer", UNEQUAL)
def test_forms_that_must_stay_unequal_both_ways(gold, answer):
    assert is_equivalent(gold, answer) is False
    assert is_equivalent(answer, gold) is False
