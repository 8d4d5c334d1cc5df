"""PRM metrics on hand-computed cases: step accuracy/F1 (bad steps positive) and ProcessBench first-error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.prm_metrics import (
    first_error_metrics,
    label_first_error,
    predicted_first_error,
    step_counts,
    step_metrics,
)


def test_step_metrics_by_hand() -> None:
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.1, 0.5])
    y = np.array([1, 0, 0, 1, 0, 1])
    # predicted bad (p < 0.5): steps 1, 3, 4; bad labels: 1, 2, 4 -> tp 2 (1, 4), fp 1 (3), fn 1 (2), tn 2 (0, 5)
    assert step_counts(p, y) == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    m = step_metrics(p, y)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["bad_rate"] == pytest.approx(0.5)
    assert step_metrics(np.array([0.9, 0.8]), np.array([1, 1]))["f1"] == 1.0  # nothing to find, nothing flagged
    assert step_metrics(np.array([0.9, 0.3]), np.array([1, 1]))["f1"] == 0.0
    assert step_metrics(p, y, threshold=0.95)["accuracy"] == pytest.approx(3 / 6)


def test_first_error_by_hand() -> None:
    assert predicted_first_error([0.9, 0.7, 0.4, 0.9]) == 2
    assert predicted_first_error([0.9, 0.7]) == -1
    assert label_first_error([1, 1, 0, 0]) == 2 and label_first_error([True, None, False]) == 2
    assert label_first_error([1, -100, 1]) == -1 and label_first_error([]) == -1
    # 3 solutions with an error (2 localised exactly), 2 without (1 called correct)
    m = first_error_metrics([2, 0, -1, -1, 1], [2, 0, 1, -1, -1])
    assert m["acc_err"] == pytest.approx(2 / 3) and m["acc_cor"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert m["accuracy"] == pytest.approx(3 / 5)
    only_correct = first_error_metrics([-1], [-1])
    assert math.isnan(only_correct["acc_err"]) and only_correct["acc_cor"] == 1.0
