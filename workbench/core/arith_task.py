"""A seeded synthetic arithmetic task: multi-step word problems with known intermediate results and, optionally,
an injected error at a known step. Offline data with ground-truth step labels for tests, the PRM benchmark,
guided decoding and the demo.

A problem has 2-5 computation steps (`min_ops`..`max_ops`) and one closing step "The answer is X.":

    prompt: "Tom has 3 boxes with 4 apples each. He buys 5 more apples. He gives away 2 apples. How many apples
             does Tom have now?"
    steps:  "Step 1: 3 boxes of 4 apples, so 3 * 4 = 12."
            "Step 2: He buys 5 more, so 12 + 5 = 17."
            "Step 3: He gives away 2, so 17 - 2 = 15."
            "The answer is 15."

An injected error makes the result of one step (the "first error", 0-based `first_error`) wrong; the later steps
compute correctly FROM THE WRONG VALUE, so each later step is locally consistent but the solution is wrong. Two
kinds (`error_kinds`, one drawn per erroneous problem):
- "slip": an arithmetic slip, the written result is the true one ± 1..9 ("12 + 5 = 19");
- "copy": the step computes correctly but with a number other than the one it names, as when a quantity is
  miscopied ("He buys 5 more, so 12 + 7 = 19"; step 1: "3 boxes of 4 apples, so 3 * 6 = 18").
An error at the closing step states a number other than the last result (either kind).
Spotting a slip needs arithmetic, spotting a miscopy only comparing numbers: the easier task for a tiny model
(README, "Process reward models").

Labels (decided here, documented for every user): a step is GOOD when every step up to and including it is
correct, BAD from the first error on (Math-Shepherd's "can this prefix still reach the right answer" reading;
TRL's bool labels: True before the first error, False from it on). `first_error` is ProcessBench's label (-1 =
no error). `check_answer(solution text, reference_answer)` is True exactly when the problem has no error.

Deterministic: problem i of seed s is the same whatever the number of problems asked for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from workbench.core.steps import BAD, GOOD, StepwiseRecord

NAMES = (("Tom", "He"), ("Ana", "She"), ("Sam", "He"), ("Mia", "She"), ("Raj", "He"), ("Lea", "She"),
         ("Ben", "He"), ("Zoe", "She"))
ITEMS = ("apples", "pens", "coins", "cards", "books", "eggs", "shells", "stamps")
SOURCE = "arith"


@dataclass(frozen=True)
class ArithProblem:
    """One generated problem. `values[k]` is the result written in computation step k (after an injected error,
    the wrong one and the values that follow from it); `true_values[k]` the correct one."""

    prompt: str
    steps: tuple[str, ...]
    values: tuple[int, ...]
    true_values: tuple[int, ...]
    reference_answer: str
    first_error: int  # 0-based index into steps; -1 = no error
    seed: str
    error_kind: str = ""  # "slip" | "copy" ("" = no error)

    @property
    def labels(self) -> list[bool]:
        """TRL stepwise labels: True before the first error, False from it on."""
        n = len(self.steps)
        cut = n if self.first_error < 0 else self.first_error
        return [i < cut for i in range(n)]

    @property
    def ratings(self) -> tuple[int, ...]:
        return tuple(GOOD if ok else BAD for ok in self.labels)

    @property
    def solution(self) -> str:
        return "\n".join(self.steps)

    def record(self) -> StepwiseRecord:
        return StepwiseRecord(self.prompt, self.steps, self.ratings, reference_answer=self.reference_answer,
                              source=SOURCE, meta={"seed": self.seed, "first_error": self.first_error,
                                                   "values": list(self.values),
                                                   "true_values": list(self.true_values),
                                                   "error_kind": self.error_kind})

    def trl_row(self) -> dict:
        """The TRL stepwise-supervision row a PRM run reads (run_dir/steps.jsonl)."""
        return {"prompt": self.prompt, "completions": list(self.steps), "labels": self.labels}


def _wrong(rng: random.Random, value: int) -> int:
    """A wrong result near `value` (never a multiple-of-10 slip, never negative)."""
    choices = [value + d for d in range(-9, 10) if d != 0 and value + d >= 0]
    return rng.choice(choices)


ERROR_KINDS = ("slip", "copy")


def make_problem(seed: str, *, error_rate: float = 0.5, min_ops: int = 2, max_ops: int = 5,
                 error_kinds: tuple[str, ...] = ERROR_KINDS) -> ArithProblem:
    """The problem of `seed` (any string); with probability `error_rate` one step carries an injected error of
    one of `error_kinds`."""
    if not 2 <= min_ops <= max_ops:
        raise ValueError("need 2 <= min_ops <= max_ops")
    if not error_kinds or set(error_kinds) - set(ERROR_KINDS):
        raise ValueError(f"error_kinds must be a non-empty subset of {ERROR_KINDS}")
    rng = random.Random(seed)
    (name, he), item = rng.choice(NAMES), rng.choice(ITEMS)
    n_ops = rng.randint(min_ops, max_ops)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    story = [f"{name} has {a} boxes with {b} {item} each."]
    ops: list[tuple[str, int, str]] = [("*", b, f"Step 1: {a} boxes of {b} {item}")]
    first = a
    total = a * b
    for _ in range(n_ops - 1):
        if total > 12 and rng.random() < 0.5:
            d = rng.randint(1, min(19, total - 10))
            story.append(f"{he} gives away {d} {item}.")
            ops.append(("-", d, f"{he} gives away {d}"))
            total -= d
        else:
            c = rng.randint(2, 19)
            story.append(f"{he} buys {c} more {item}.")
            ops.append(("+", c, f"{he} buys {c} more"))
            total += c
    story.append(f"How many {item} does {name} have now?")
    n_steps = n_ops + 1
    first_error = rng.randrange(n_steps) if rng.random() < error_rate else -1
    kind = rng.choice(error_kinds) if first_error >= 0 else ""

    steps: list[str] = []
    values: list[int] = []
    true_values: list[int] = []
    shown, true = first, first  # the running value as written / as it should be
    for k, (op, y, text) in enumerate(ops):
        true = _apply(op, true, y)
        used = y
        if k == first_error and kind == "copy":
            near = [y - 1, y + 1] if op == "*" else range(y - 9, y + 10)  # the value stays within 9 of the truth
            used = rng.choice([v for v in near if v >= 2 and v != y and _apply(op, shown, v) >= 0])
        result = _apply(op, shown, used)
        if k == first_error and kind == "slip":
            result = _wrong(rng, result)
        label = f"{text}, so {shown} {op} {used} = {result}."
        steps.append(label if k == 0 else f"Step {k + 1}: {label}")
        values.append(result)
        true_values.append(true)
        shown = result
    answer = _wrong(rng, shown) if first_error == n_ops else shown
    steps.append(f"The answer is {answer}.")
    return ArithProblem(" ".join(story), tuple(steps), tuple(values), tuple(true_values), str(true),
                        first_error, seed, kind)


def _apply(op: str, x: int, y: int) -> int:
    return x * y if op == "*" else x + y if op == "+" else x - y


def generate_problems(n: int, *, seed: int = 0, error_rate: float = 0.5, min_ops: int = 2, max_ops: int = 5,
                      error_kinds: tuple[str, ...] = ERROR_KINDS) -> list[ArithProblem]:
    """`n` problems; problem i depends on (seed, i) only."""
    return [make_problem(f"{seed}:{i}", error_rate=error_rate, min_ops=min_ops, max_ops=max_ops,
                         error_kinds=error_kinds) for i in range(n)]
