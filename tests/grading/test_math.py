"""Table-driven math grader tests: extraction, math-verify equivalence, numeric tolerance, units, intervals."""

import pytest

from agentdistill.data.task import Task
from agentdistill.grading import grade, grade_math
from agentdistill.grading.extract import extract_math_answer

# (prediction, gold, correct)
CASES = [
    ("0.5", r"\frac{1}{2}", True),
    (r"\frac{1}{2}", "0.5", True),
    (r"\dfrac{1}{2}", r"\frac12", True),
    ("1/2", r"\frac{1}{2}", True),
    (r"\frac{1}{3}", "0.33", False),
    (r"(3,\frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"\left(3, \frac{\pi}{2}\right)", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"(3, \pi/2)", r"\left( 3, \frac{\pi}{2} \right)", True),
    (r"(3, \pi)", r"\left( 3, \frac{\pi}{2} \right)", False),
    ("5 dollars", "5", True),
    (r"\$5", "5", True),
    (r"10\text{ cm}", "10", True),
    (r"10 \text{cm}^2", "10", True),
    ("1,000", "1000", True),
    ("1,000,000", "1000000", True),
    ("25\\%", "25", True),
    ("25%", "25", True),
    (r"90^\circ", "90", True),
    ("90°", "90", True),
    (r"(-\infty,-8]\cup[8,\infty)", r"(-\infty,-8]\cup [8,\infty)", True),
    (r"(-\infty,-8)\cup(8,\infty)", r"(-\infty,-8]\cup [8,\infty)", False),
    (r"[2, 5)", r"[2,5)", True),
    (r"\sqrt{2}/2", r"\frac{\sqrt{2}}{2}", True),
    (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}", True),
    (r"2\sqrt{2}", r"\sqrt{8}", True),
    (r"x^2+2x+1", r"(x+1)^2", True),
    ("x = 3", "3", True),
    ("The final answer is 42.", "42", True),
    (r"The final answer is $\boxed{\dfrac{3}{4}}$", "0.75", True),
    (r"so \boxed{\frac{a}{b^{2}}} is it", r"\frac{a}{b^2}", True),
    (r"first \boxed{1} then \boxed{2}", "2", True),
    ("Natalia sold 48+24 = 72 clips.\n#### 72", "72", True),
    ("#### 1,234", "1234", True),
    ("100001", "100000", False),  # integers compare exactly, not within a tolerance
    ("13138980", "13138980", True),
    ("-2.33333", "-2.3333333333333335", True),  # GSM-hard float target, relative tolerance 1e-4
    ("-2.33", "-2.3333333333333335", False),
    ("7.0", "7", True),
    (7, "7", True),
    (7.0, "7", True),
    (3.14159, "3.1415926", True),
    ("2", "3", False),
    ("", "3", False),
    (None, "3", False),
    ("banana", "3", False),
    (r"\text{(C)}", r"\text{(C)}", True),
    ("E", r"\text{(E)}", True),
    (r"\pi", "3.14159265", True),
    (r"\{1, 2, 3\}", r"\{3, 2, 1\}", True),
    ("10", r"10\%", True),
]


@pytest.mark.parametrize(("pred", "gold", "correct"), CASES)
def test_grade_math_table(pred, gold, correct):
    g = grade_math(pred, gold)
    assert g.correct is correct, g.detail


@pytest.mark.parametrize(("text", "want"), [
    (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{1}{\sqrt{2}}"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    (r"answer \boxed 5.", "5."),
    ("The final answer is: 12", "12"),
    ("Answer: 7", "7"),
    ("plain 9", "plain 9"),
])
def test_extraction(text, want):
    assert extract_math_answer(text) == want


def test_grade_dispatch_math_and_tolerance():
    t = Task(id="1", dataset="gsm-hard", kind="math", question="q", answer="1000.5")
    assert grade(t, "1000.55").correct
    assert not grade(t, "1000.55", numeric_tolerance=1e-8).correct
    assert grade(t, r"\boxed{1000.5}").method == "numeric"
