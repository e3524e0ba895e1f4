"""Pull the final answer out of a math prediction and clean it for comparison."""

from __future__ import annotations

import re

# The one boxed-answer extractor of the project lives with the gold-answer code in `data` (both `agent` and
# `grading` may import `data`; neither may import the other): gold solutions, CoT answers and predictions share it.
from agentdistill.data.answers import boxed_contents, last_boxed  # noqa: F401 (re-exported)
from agentdistill.grading.forms import word_number
from agentdistill.grading.types import is_payload, payload_text

_FINAL_RE = re.compile(r"final answer\s*(?:is|:)\s*[:\s]*(.+)", re.IGNORECASE)
_ANSWER_RE = re.compile(r"(?:^|\n)\s*answer\s*[:=]\s*(.+)", re.IGNORECASE)
# "The answer is 18, since 9*2 = 18.": the phrase, then the same sentence rules as a 'final answer' phrase
_ANSWER_IS_RE = re.compile(r"\bthe answer is\b[ \t:]*", re.IGNORECASE)
_THOUSANDS_RE = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_UNIT_WORDS = (
    r"dollars?|cents?|cm|centimeters?|meters?|m|km|kilometers?|inch(?:es)?|feet|foot|ft|miles?|"
    r"hours?|minutes?|mins?|seconds?|days?|weeks?|months?|years?|degrees?|units?|square|sq|kg|g|grams?|"
    r"pounds?|lbs?|liters?|ml|mph|percent|people|students|apples|points?|usd|eur|euros?|gbp|yuan|rupees?"
)
_CURRENCY = re.compile(r"^([-+]?)\s*(?:\\?\$|€|£|¥|₹|(?:USD|US\$|EUR|GBP|INR|Rs\.?)(?=\s*[\d.]))\s*")
# a unit word and its exponent ("48 cm^2", "5 m^{3}", "5 ft²"), then what follows it
_UNIT_TAIL = re.compile(r"\s+(?:" + _UNIT_WORDS + r")\b(?:\^\{?[23]\}?|[²³])?(.*)$", re.IGNORECASE)
# "5 eggs", "42 is the answer": a number followed by words only (none a math word) is the number
_NUMBER_WORDS = re.compile(r"^([-+]?[\d.,/]*\d[\d.,/]*)\s+([A-Za-z][A-Za-z' .]*)$")
_SPELLED = re.compile(
    r"^((?:[a-z]+)(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?)\b\.?((?:\s+[A-Za-z][A-Za-z' .]*)?)$",
    re.I,
)
_MATH_WORDS = {"pi", "sqrt", "ln", "log", "sin", "cos", "tan", "exp", "and", "or", "i", "e"}
# words that change the number ("5 million", "2 squared", "1 over 2", "3 fourths", "5 is not the answer")
_CHANGING_WORDS = {
    *("million", "millions", "billion", "billions", "trillion", "thousand", "thousands", "hundred"),
    *("hundreds", "dozen", "dozens", "score", "squared", "cubed", "factorial", "root", "roots", "times"),
    *("plus", "minus", "divided", "per", "not", "no", "half", "halves", "third", "thirds", "quarter"),
    *("quarters", "percent", "power", "th", "st", "nd", "rd"),
}
_RELATION_WORDS = {"to", "over", "in", "out", "of", "into", "by"}  # "7 in" is inches; "1 in four" is a ratio
# "1 and -2": two numbers are a list of answers
_NUMBER_PAIR = re.compile(r"^([-+]?[\d.,/]+)\s+(?:and|or)\s+([-+]?[\d.,/]+)$")
# \frac with an unbraced argument (\frac12, \frac\pi 2), as the MATH normaliser's fix_fracs rewrites it
_FRAC_ARG = r"(\\[a-zA-Z]+|[0-9a-zA-Z])"


def extract_math_answer(prediction: object) -> str:
    """The last `\\boxed{}` value, else a 'final answer is X' / 'Answer: X' / 'the answer is X' value (the
    sentence after it cut: "18, since 9*2 = 18" is 18), else the value after '####',
    else the prediction itself (agents usually hand `final_answer` a bare value). A typed payload from the
    sandbox (``{"type": ..., "latex": ...}``) is read through its LaTeX/exact form; other non-strings
    (Fraction, sympy objects, lists) through ``str()``, which is Python syntax the grader reads as Python."""
    if isinstance(prediction, list | tuple) and any(is_payload(x) for x in prediction):
        return "(" + ", ".join(_python_form(x) for x in prediction) + ")"  # e.g. [Fraction payload, 3]
    prediction = payload_text(prediction, ("latex", "exact", "python", "text", "value"))
    if prediction is None:
        return ""
    if isinstance(prediction, bool):
        return str(prediction)
    if isinstance(prediction, int | float):
        return repr(prediction) if isinstance(prediction, float) else str(prediction)
    text = str(prediction).strip()
    boxes = boxed_contents(text)
    if boxes:
        return boxes[-1]
    for pattern in (_FINAL_RE, _ANSWER_RE):
        found = pattern.findall(text)
        if found:
            return _strip_sentence(found[-1])
    phrases = list(_ANSWER_IS_RE.finditer(text))  # from its last occurrence: "18. No, the answer is 20"
    if phrases and text[phrases[-1].end() :].strip():
        return _strip_sentence(text[phrases[-1].end() :])
    if "####" in text:
        return text.rsplit("####", 1)[1].strip().splitlines()[0] if text.rsplit("####", 1)[1].strip() else ""
    return text


def _python_form(value: object) -> str:
    """One element of a sequence answer in Python syntax (a payload's python/text form), for grading as a tuple."""
    form = payload_text(value, ("python", "text", "exact", "latex"))
    if isinstance(form, list | tuple):
        return "(" + ", ".join(_python_form(x) for x in form) + ")"
    return repr(form) if isinstance(form, float) else str(form)


# Unicode superscript digits and signs, written as an exponent: "3×10⁸" is 3×10^{8}, "2⁻³" is 2^{-3}
_FROM_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")


def _strip_sentence(s: str) -> str:
    s = s.strip().splitlines()[0].strip()
    s = re.split(r",?\s+(?:since|because|as shown|which is|so that)\b", s, maxsplit=1)[0]  # "5, since 2+3=5"
    s = re.sub(r"^\$+|\$+\.?$", "", s.strip())
    return s.rstrip(" .")


def clean_math(s: str, *, strip_var: bool = True) -> str:
    """Drop what never changes the value: $ and currency codes (after a sign: ``-$5`` is -5), \\text{units},
    unit words when no number follows them (``5 dollars`` is 5, ``5 dollars and 50 cents`` is not), degree
    marks, \\!, the Unicode minus sign (as ``-``), `x =` (unless
    ``strip_var=False``: the math grader compares equations as equations), thousands separators, a trailing
    period; \\dfrac/\\tfrac -> \\frac."""
    s = s.strip().replace("\u2212", "-")  # the Unicode minus sign
    # "$X$." / "$X$," (an answer ended as a sentence): the mark after the closing $ goes first, then the $s
    s = re.sub(r"^\$+|\$+\s*[.,;]?$", "", s).strip()
    s = re.sub(r"(?<=\d)[\u00a0\u202f\u2009](?=\d{3}\b)", " ", s)  # no-break/thin space between thousands
    s = s.replace("\u221e", "\\infty")  # ∞
    s = _SUPERSCRIPT.sub(lambda m: "^{" + m.group().translate(_FROM_SUPERSCRIPT) + "}", s)  # "3×10⁸", "x²"
    s = re.sub(r"\^\s*([-+]\d+)\b", r"^{\1}", s)  # "10^-5": an unbraced signed exponent
    s = re.sub(r"^\\[\[(]\s*((?:(?!\\[\[\]()]).)*?)\s*\\[\])]$", r"\1", s, flags=re.DOTALL)  # \[5\], \(5\)
    bold = re.fullmatch(r"\*\*(.+)\*\*", s)
    s = bold.group(1).strip() if bold else s  # markdown bold
    s = re.sub(r"(?<!\\)\\ ", " ", s)  # a LaTeX space (not the \\ row separator)
    s = re.sub(r"(\d),\\!\s*(?=\d{3})", r"\1,", s)  # "11,\\! 111" is one number, thousands marked in LaTeX
    s = re.sub(r"\\sqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", s)  # \sqrt(2) as \sqrt{2} (Math-Verify#41)
    s = re.sub(r"^[a-zA-Z]\s*\\in\s*(?=[\[(])", "", s)  # "x \\in [-3, -1]"
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\!", "").replace("\\,", "")
    s = s.replace("\\left", "").replace("\\right", "")
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\degree", "", s)
    s = re.sub(r"\\(?:text|mbox|mathrm)\{\s*(?:" + _UNIT_WORDS + r")?\s*\}(?:\^\{?[23]\}?)?", "", s)
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}", r"\1", s)
    s = _CURRENCY.sub(r"\1", s)  # a currency sign or code, after any sign: "-$5" is -5
    s = re.sub(r"\\frac\s*" + _FRAC_ARG + r"\s*" + _FRAC_ARG, r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*" + _FRAC_ARG + r"\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac(\{[^{}]*\})\s*" + _FRAC_ARG, r"\\frac\1{\2}", s)
    unit = _UNIT_TAIL.search(s) if re.match(r"^[-+]?[\d.,/]+\s+[a-zA-Z]", s) else None
    if unit and not re.search(r"\d", unit.group(1)):  # "5 dollars" is 5; "5 dollars and 50 cents" is not
        s = s[: unit.start()]
    spelled = _SPELLED.match(s)  # "three", "twenty-one apples": digits, when only naming words follow
    number = word_number(spelled.group(1)) if spelled else None
    if number is not None and _only_naming_words(spelled.group(2).split()):  # type: ignore[union-attr]
        s = str(number)
    words = _NUMBER_WORDS.match(s)
    if words and _only_naming_words(words.group(2).split()):
        s = words.group(1)
    pair = _NUMBER_PAIR.match(s)
    s = f"{pair.group(1)}, {pair.group(2)}" if pair else s
    if strip_var:
        s = re.sub(r"^[a-zA-Z]\s*=\s*(?=[-+\d\\(])", "", s)  # "x = 5"
    s = re.sub(r"\\?%$", "", s.rstrip(". ").strip()).strip()  # MATH convention: "25\\%" grades as 25
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    return s


def _only_naming_words(words: list[str]) -> bool:
    """True when words after a number only name what it counts ("eggs", "is the answer"), never change it."""
    bare = [w.strip(".'").lower() for w in words]
    if any(w in _MATH_WORDS or w in _CHANGING_WORDS or w.endswith("ths") for w in bare):
        return False
    if len(bare) > 1 and any(w in _RELATION_WORDS for w in bare):
        return False
    return not any(len(w) == 1 and w != "a" for w in bare)


def to_number(s: str) -> float | None:
    """A plain number, fraction a/b, \\frac{a}{b} or percentage as float; None otherwise."""
    t = s.replace(" ", "").replace("\\%", "").rstrip("%")
    m = re.fullmatch(r"\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}", t) or re.fullmatch(
        r"([-+]?\d+(?:\.\d+)?)/([-+]?\d+(?:\.\d+)?)", t
    )
    try:
        val = float(m.group(1)) / float(m.group(2)) if m else float(t)
    except (ValueError, ZeroDivisionError):
        return None
    return val
