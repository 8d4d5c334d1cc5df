"""A share as a percentage for progress bars and summaries, one rule for every panel: it never says 100 % (or 0 %)
when it is not, so 285 of 286 pairs reads "99.7%" and step 399 of 400 "99.8%"."""

from __future__ import annotations


def percent_text(share: float) -> str:
    if share <= 0 or share >= 1:
        return f"{max(0.0, min(1.0, share)):.0%}"
    text = f"{share:.0%}"
    return f"{share:.1%}" if text in ("0%", "100%") else text
