"""Final-answer extraction and checking: the one verifiable-reward rule of the workbench (scorers, automatic
step/outcome labels, the PRM benchmark and guided decoding all call it).

Extraction, by priority (peers-prm.md §6):
1. the last `\\boxed{...}` (or `\\fbox{...}`), braces matched (lm-eval's MATH `last_boxed_only_string`);
2. the last "The answer is X" / "Final Answer: The final answer is X" / "The answer is: X" (Math-Shepherd),
   up to the end of its sentence or line, without "I hope it is correct." (Minerva);
3. GSM8K's "#### X";
4. PRM800K's "# Answer\\n\\nX";
5. else the last number written in the text (lm-eval's GSM8K flexible-extract).

Comparison: both answers are normalised (surrounding `$`, trailing `.`, spaces, `\\left`/`\\right`, `\\text{}`,
`\\dfrac`, `%`, a leading "x ="); when the reference is a number the given answer is compared with it exactly as
a Fraction ("1,234.5" == "2469/2", "0.75" == "\\frac{3}{4}"); otherwise the two normalised strings must be equal,
ignoring case.
"""

from __future__ import annotations

import re
from fractions import Fraction

# A number as people write it: sign, thousands separators, decimals, or a fraction "3/4".
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:/\d+)?")
_EXACT_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+|\d*\.\d+|(?:\d{1,3}(?:,\d{3})+|\d+)\.\d*)(?:/\d+)?")
_ANSWER_IS = re.compile(r"(?i)\banswer\s+is\s*:?\s*(.*)")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_HOPE = re.compile(r"(?i)\.?\s*I hope it is correct\.?\s*$")
_GSM8K = re.compile(r"####\s*(.*)")
_PRM800K = re.compile(r"(?m)^#\s*Answer\s*\n\s*\n?(.*)")
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` (nested braces matched), or of `\\boxed 5`; None
    when there is none or its braces never close."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = start + (6 if text.startswith("\\boxed", start) else 5)
    if text.startswith(" ", i):  # "\boxed 5": the rest of the word
        m = re.match(r"\s+([^\s$]+)", text[i:])
        return m.group(1) if m else None
    if not text.startswith("{", i):
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    return None


def last_number_text(text: str) -> str | None:
    """The last number in `text` as written ("1,234.50"), or None."""
    for m in reversed(list(_NUMBER.finditer(text))):
        token = m.group()
        if any(ch.isdigit() for ch in token) and parse_number(token) is not None:
            return token
    return None


def final_number(text: str) -> Fraction | None:
    """The last number written in `text` as an exact Fraction ("1,234.50" -> 2469/2), or None.

    Exact comparison of the final number is the GSM8K evaluation rule (Cobbe et al., "Training Verifiers to Solve
    Math Word Problems", 2021: the answer follows "####"; the final number of a solution is its answer)."""
    token = last_number_text(text)
    return None if token is None else parse_number(token)


def parse_number(token: str) -> Fraction | None:
    """`token` read as one exact number ("-1,234.5", "3/4", ".5", "+2"), or None when it is not exactly one."""
    token = token.strip()
    if not _EXACT_NUMBER.fullmatch(token):
        return None
    numerator, _, denominator = token.replace(",", "").lstrip("+").partition("/")
    try:
        return Fraction(numerator) / Fraction(denominator or 1)
    except (ValueError, ZeroDivisionError):  # "1/0": not a number anyone meant
        return None


def _marked_answer(text: str) -> str | None:
    """The answer a solution states explicitly (steps 1-4 of the module docstring), or None."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    said = list(_ANSWER_IS.finditer(text))
    if said:
        stated = _HOPE.sub("", said[-1].group(1))
        end = _SENTENCE_END.search(stated)  # "1,234. (3 ways)" -> "1,234"; "3.14" stays whole
        return (stated[:end.start()] if end else stated).strip()
    for rx in (_GSM8K, _PRM800K):
        found = list(rx.finditer(text))
        if found:
            return found[-1].group(1).strip()
    return None


def extract_answer(text: str) -> str | None:
    """The final answer of a response as written (not normalised), or None when it states none and has no number.
    An explicit marker that is empty ("The answer is" at the very end) counts as no answer."""
    marked = _marked_answer(text)
    if marked is not None:
        return marked or None
    return last_number_text(text)


def normalize_answer(answer: str) -> str:
    """Light LaTeX/whitespace normalisation used before comparing answers as strings or numbers."""
    s = answer.strip()
    s = _TEXT.sub(r"\1", s)
    s = _FRAC.sub(r"\1/\2", s)
    for junk in ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "^\\circ", "^{\\circ}", "\\%", "%", "\\$", "$"):
        s = s.replace(junk, "")
    s = re.sub(r"\s+", "", s)
    s = s.rstrip(".")
    if s.startswith("{") and s.endswith("}") and s.count("{") == 1:
        s = s[1:-1]
    m = re.fullmatch(r"[A-Za-z]\w{0,2}=(.+)", s)  # "x=5" -> "5"
    if m:
        s = m.group(1)
    return s.lower()


def answer_number(answer: str) -> Fraction | None:
    """The number an extracted answer states: the whole answer when it is one number ("1,234.5", "\\frac{3}{4}"),
    else its last number ("7 apples" -> 7); None when it has none."""
    exact = parse_number(normalize_answer(answer))
    return exact if exact is not None else final_number(answer)


def answers_match(given: str | None, reference: str | float | int) -> bool:
    """Whether an extracted answer equals the reference answer: exactly as numbers when the reference is one
    number, else as normalised strings (case-insensitive)."""
    if given is None:
        return False
    if isinstance(reference, float):
        want: Fraction | None = Fraction(repr(reference))
    elif isinstance(reference, int):
        want = Fraction(reference)
    else:
        want = parse_number(normalize_answer(reference))
    if want is not None:
        return answer_number(given) == want
    return normalize_answer(given) == normalize_answer(str(reference))


def reference_answer(reference: str) -> str:
    """A reference as datasets store it, reduced to its answer: GSM8K's "... #### 72" -> "72", a boxed MATH
    solution -> its boxed content; a bare answer is returned as it is."""
    marked = _marked_answer(reference)
    return marked if marked else reference


def check_answer(response: str, reference: str | float | int) -> bool:
    """Whether `response`'s final answer equals `reference` (a bare answer or a full reference solution)."""
    ref = reference_answer(reference) if isinstance(reference, str) else reference
    return answers_match(extract_answer(response), ref)
