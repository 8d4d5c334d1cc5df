"""Scorers of the demo project: the SAME functions label the bundled pairs (make_demo_data.py) and rate the
trained model's generations (evaluation), so the front measures exactly what the labels asked for.

Two objectives that pull in opposite directions:
- brevity: words in the response, fewer is better (the classic axis against verbosity bias; Singhal et al.,
  "A Long Way to Go: Investigating Length Correlations in RLHF", 2023);
- detail:  distinct content words (4+ letters, not a stop word), more is better: an answer that names more
  distinct things says more, which costs words.

The demo copies this file next to its project as `scorers.py` (the project's scorers file), where the
workbench picks up functions decorated with @scorer (workbench.core.scorers).
"""

from __future__ import annotations

import re

from workbench.core.scorers import scorer

# Common function words that carry no detail even when they are 4+ letters long.
STOP_WORDS = frozenset("""
about above after again against also because been before being below between both could does doing down
during each even every from further have having here into itself just like made make many more most much
must only other over same should some such than that their them themselves then there these they this
those through under until very were what when where which while will with would your yours
""".split())

_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


@scorer(name="brevity", direction="minimize", description="words in the response (fewer is better)")
def brevity_words(prompt: str, response: str) -> int:
    """Whitespace-separated words, the unit people mean by "keep it short"."""
    return len(response.split())


@scorer(name="detail", direction="maximize", description="distinct content words (more is better)")
def detail_terms(prompt: str, response: str) -> int:
    """Distinct lower-cased words of 4+ letters that are not stop words."""
    words = {w.lower() for w in _WORD.findall(response)}
    return sum(1 for w in words if len(w) >= 4 and w not in STOP_WORDS)


# Labelling rule (make_demo_data.py, README.md): a pair gets a label for an objective only when the two
# responses' scores differ by at least this much; smaller differences are too close to call and get none.
MIN_DIFFERENCE = {"brevity": 3, "detail": 2}
