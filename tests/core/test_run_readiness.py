"""Pre-launch label warnings (issue #13)."""

from __future__ import annotations

from workbench.core.run_readiness import label_warnings


def test_label_warnings():
    counts = {"enough": (64, 8), "few": (3, 1), "none": (0, 0), "no_eval": (40, 0)}
    got = label_warnings(["enough", "few", "none", "no_eval", "missing"], counts, batch_size=4)
    assert got == [
        "few: only 3 training pairs, fewer than one batch (4)",
        "none: no labelled pair to train on (label some, or leave this objective out)",
        "no_eval: no held-out pair, so its accuracy and margin cannot be evaluated (label more pairs or raise "
        "eval_fraction)",
        "missing: no labelled pair to train on (label some, or leave this objective out)",
    ]
    assert label_warnings(["enough"], counts, batch_size=64) == []
