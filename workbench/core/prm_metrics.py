"""Metrics of a process reward model (pure numpy; the trainer, the benchmark and any report share them).

- Step accuracy: argmax of the two classes (P(good) >= threshold, 0.5) equals the step's label, over labelled
  steps (TRL's compute_accuracy).
- Step F1: F1 of finding the BAD steps (the positive class is "this step is wrong": the minority class in most
  step data and the one a PRM is for). No bad step and none predicted counts as 1.0 (nothing to find, nothing
  falsely flagged).
- First-error localisation (ProcessBench, peers-prm.md §3): a solution's label is the index of its first bad
  step, -1 when every step is good; the prediction is the first step whose P(good) < threshold. acc_err = exact
  match over solutions with an error, acc_cor = over solutions without, f1 = their harmonic mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def step_counts(p_good: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """Confusion counts over labelled steps (labels 1 good / 0 bad); the positive class is BAD."""
    pred_bad = np.asarray(p_good) < threshold
    bad = np.asarray(labels) == 0
    return {"tp": int((pred_bad & bad).sum()), "fp": int((pred_bad & ~bad).sum()),
            "fn": int((~pred_bad & bad).sum()), "tn": int((~pred_bad & ~bad).sum())}


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def step_metrics(p_good: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """accuracy, f1 (bad steps), precision/recall of bad steps, and the bad-step rate of the labels."""
    c = step_counts(p_good, labels, threshold)
    n = sum(c.values())
    return {"accuracy": (c["tp"] + c["tn"]) / n if n else float("nan"),
            "f1": f1_from_counts(c["tp"], c["fp"], c["fn"]),
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0,
            "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0,
            "bad_rate": (c["tp"] + c["fn"]) / n if n else float("nan")}


def predicted_first_error(p_good: Sequence[float], threshold: float = 0.5) -> int:
    """The first step the model calls wrong, -1 when it calls every step good."""
    for i, p in enumerate(p_good):
        if p < threshold:
            return i
    return -1


def label_first_error(labels: Sequence[int | bool | None]) -> int:
    """The first step labelled bad (0/False), -1 when none is (unlabelled steps are skipped)."""
    for i, x in enumerate(labels):
        if x is not None and not x and x != -100:
            return i
    return -1


def first_error_metrics(predicted: Sequence[int], actual: Sequence[int]) -> dict[str, float]:
    """ProcessBench's acc_err, acc_cor and their harmonic mean f1 (nan where a group is empty)."""
    pred, true = np.asarray(predicted), np.asarray(actual)
    err, cor = true != -1, true == -1
    acc_err = float((pred[err] == true[err]).mean()) if err.any() else float("nan")
    acc_cor = float((pred[cor] == -1).mean()) if cor.any() else float("nan")
    f1 = 2 * acc_err * acc_cor / (acc_err + acc_cor) if acc_err + acc_cor > 0 else 0.0
    return {"acc_err": acc_err, "acc_cor": acc_cor, "f1": f1,
            "accuracy": float((pred == true).mean()) if len(true) else float("nan")}
