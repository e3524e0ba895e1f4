"""Answers written as sentences, as real models end them: ``$X$.``, the Minerva ending ("The final answer is
$X$. I hope it is correct."), "The answer is 18, since 9*2 = 18.", units with exponents, no-break thousands
separators, unbraced signed exponents and superscripts, ∞, and a QA answer followed by its reason on the same
line ("The answer is Paris. Paris is the capital"). Found by a review of the graders against real output forms
(docs/reviews/graders-parser-2026-12-02.md; each case failed before: the $ of ``$X$.`` was stripped before the
full stop, so ``X$`` was read as a leading number).
"""

from __future__ import annotations

import pytest

from agentdistill.agent.cot import extract_answer
from agentdistill.data.loader import load_tasks
from agentdistill.grading import grade, grade_math

# (prediction, gold, correct): the wrong answers graded correct before are the False rows
CASES = [
    ("$3\\sqrt{13}$.", "3\\sqrt{13}", True),
    ("$(3, -2)$,", "(3,-2)", True),
    ("$2\\pi$.", "2", False),
    ("$5\\sqrt{2}$.", "5", False),
    ("$5$", "5", True),
    ("48 cm^2", "48", True),
    ("5 m^{2}", "5", True),
    ("48 m^3", "48", True),
    ("5 ft²", "5", True),
    ("5 units^2", "5", True),
    ("5 dollars and 50 cents", "5", False),
    ("The answer is 18, since 9*2 = 18.", "18", True),
    ("The answer is 18 because 3*6 = 18.", "18", True),
    ("The answer is 18\n\nExplanation: 16-3-4=9", "18", True),
    ("The answer is 18. No, the answer is 20.", "18", False),
    ("The answer is 18. No, the answer is 20.", "20", True),
    ("the answer is not 18", "18", False),
    ("18\u202f000", "18000", True),
    ("18\xa0000", "18000", True),
    ("18\xa0000", "1800", False),
    ("1.23 \\times 10^-5", "0.0000123", True),
    ("1.23 × 10^-5", "0.0000123", True),
    ("1.23 × 10^-5", "0.000123", False),
    ("∞", "\\infty", True),
    ("-∞", "\\infty", False),
    ("1, 2, 3, \\ldots", "1, 2, 3, \\ldots", True),
    ("3×10⁸", "300000000", True),  # Unicode superscripts are an exponent
    ("3×10⁸", "3", False),
    ("2⁻³", "0.125", True),
    ("x²+1", "x^2+1", True),
    ("5 cm²", "5", True),
]

# (CoT text, the answer read from it): the explanation after the answer on its line is not the answer
QA_SENTENCES = [
    ("The answer is Paris. Paris is the capital of France.", "Paris"),
    ("The answer is Paris, which is the capital of France.", "Paris"),
    ("The answer is Mt. Everest, because it is the tallest.", "Mt. Everest"),
    ('The answer is "Hey Jude". It was a hit.', '"Hey Jude"'),
    ("Answer: yes. Both were born in Ohio.", "yes"),
    ("The answer is 2.5. Because 5/2 = 2.5", "2.5"),
    # a full stop after an abbreviation or an initial is part of the answer
    ("The answer is St. Louis.", "St. Louis"),
    ("The answer is J. K. Rowling. She wrote it.", "J. K. Rowling"),
    ("The answer is U.S. Route 66.", "U.S. Route 66"),
    ("The answer is Dr. Who", "Dr. Who"),
    ("The answer is: Paris, France", "Paris, France"),
    ("The answer is 1, 2, and 3.", "1, 2, and 3"),
]


@pytest.mark.parametrize(("pred", "gold", "correct"), CASES)
def test_sentence_forms(pred: str, gold: str, correct: bool) -> None:
    g = grade_math(pred, gold)
    assert g.correct is correct, g.detail


@pytest.mark.parametrize(("text", "answer"), QA_SENTENCES)
def test_an_explanation_after_the_answer_is_dropped(text: str, answer: str) -> None:
    assert extract_answer(text) == answer


def test_a_qa_answer_with_its_reason_grades_by_the_answer() -> None:
    task = load_tasks("hotpotqa-paper-closed", limit=1)[0]
    text = f"Reasoning.\nThe answer is {task.answer}. It is named in both passages."
    g = grade(task, extract_answer(text))
    assert g.em == 1.0 and g.correct, g


def test_minerva_ending_is_the_math_only() -> None:
    text = "Some work.\nFinal Answer: The final answer is $2\\pi$. I hope it is correct."
    assert extract_answer(text) == "$2\\pi$"
    assert extract_answer("The answer is: $x=5$ or $x=6$") == "$x=5$ or $x=6$"  # two pieces of math stay
    assert extract_answer("The answer is $5$ dollars") == "$5$"


def test_every_math500_gold_written_as_a_sentence_grades_as_itself() -> None:
    """All 500 MATH-500 golds, as an agent's ``final_answer("$X$.")`` and as a CoT's Minerva ending, grade
    correct against themselves (59 of 500 did not)."""
    tasks = load_tasks("math500")
    assert len(tasks) == 500
    wrong = []
    for t in tasks:
        gold = str(t.answer)
        cot = extract_answer(f"Work.\nFinal Answer: The final answer is ${gold}$. I hope it is correct.")
        for form in (f"${gold}$.", cot):
            if not grade(t, form).correct:
                wrong.append((t.id, gold, form))
    assert wrong == []
