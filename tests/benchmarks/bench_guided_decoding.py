"""Reward-guided decoding on the synthetic arithmetic task: final-answer accuracy of plain sampling vs PRM-guided
step search vs best-of-N (issue #17's must-show: PRM-guided decoding beats plain sampling).

    .venv/bin/python tests/benchmarks/bench_guided_decoding.py [--work DIR] [--problems 200] [--k 4]

Stages (each cached in --work, so a rerun only evaluates):
1. policy: a tiny character-level Llama trained from scratch (tests/benchmarks/arith_policy.py, 1500 steps) on
   solutions of which 30% carry an injected error: it solves the task imperfectly.
2. correct-lm: the policy trained --correct-steps more on correct solutions only (a far better arithmetician).
3. PRM: LoRA r16 on correct-lm's weights + the --prm-head (implicit: beta x the summed log-ratio to correct-lm +
   a bias; classifier: TRL's 2-class head), trained by the real PRMTrainer (kind = "prm") on --prm-data: "policy"
   (default) = 4 of the policy's own solutions to each of 1500 problems, labelled by the product's checker
   (core.auto_step_labels: good while every result so far is right); "injected" = the task's injected errors
   (error rate 0.5); steps good before the first error, bad from it on. Or any PRM checkpoint given with --prm.
4. evaluation on held-out problems (a seed neither stage trained on), same prompts and the same sampler
   (temperature, top-p) for every method, a response budget of 160 new tokens:
   - plain sampling: 1 sample;
   - PRM step search: k candidates per step, the best by the PRM kept (guided_decoding.step_search);
   - best-of-N: N = k whole samples, ranked by the PRM's worst step score (guided_decoding.ProcessReward);
   - pass@k of the same N samples (any of them right): what a perfect ranker of those samples would reach;
   - step search with the task's ground truth as the step scorer (ArithOracle): what a perfect PRM would reach;
   - step search ranked by correct-lm's likelihood (LikelihoodVerifier): a learned verifier that is not a PRM.
   Correct = core.answer_check.check_answer(response, reference answer). Tokens = all tokens decoded per problem,
   discarded candidates included (step search and best-of-N both spend about k times plain sampling).
Timings are on a contended shared CPU: read the accuracies, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.arith_policy import SEPARATOR, TASK, policy_prompt, train_policy  # noqa: E402


def policy_solutions(policy: Path, problems: int, *, k: int, seed: int) -> list[dict]:
    """Stepwise rows of the policy's own solutions, labelled by the product's checker (core.auto_step_labels: a
    step is good while every result so far equals the task's known intermediate result; Math-Shepherd's reading):
    k samples per problem at temperature 1, the way a user labels generations automatically where the answer is
    known (`workbench label-steps --auto`)."""
    from fractions import Fraction

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.core.arith_task import generate_problems
    from workbench.core.auto_step_labels import auto_labels
    from workbench.core.steps import GOOD
    from workbench.inference.generation import GenerationSettings
    from workbench.inference.guided_decoding import sample

    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    tokenizer = AutoTokenizer.from_pretrained(policy)
    rows = []
    with torch.inference_mode():
        for i, p in enumerate(generate_problems(problems, seed=seed, error_rate=0.0, **TASK)):
            settings = GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=160, seed=seed * 100_000 + i)
            for c in sample(model, tokenizer, tokenizer(policy_prompt(p.prompt))["input_ids"], settings, k):
                steps = [x for x in tokenizer.decode(c.ids, skip_special_tokens=True).split(SEPARATOR) if x.strip()]
                if steps:
                    verdict = auto_labels(steps, p.reference_answer, [Fraction(v) for v in p.true_values])
                    rows.append({"prompt": p.prompt, "completions": steps,
                                 "labels": [None if r is None else r == GOOD for r in verdict.ratings]})
    return rows


def train_prm(work: Path, policy: Path, *, steps: int, problems: int, rank: int = 16, lr: float = 2e-3,
              head: str = "implicit", data: str = "policy", sampler: Path | None = None, log=print) -> Path:
    """The PRM checkpoint folder (trained now unless already there). data "policy": `sampler`'s own solutions
    labelled by the checker (4 per problem; held out: other problems); "injected": the task's injected errors."""
    import json as _json

    from workbench.core.arith_task import generate_problems
    from workbench.core.run_config import RunConfig
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    run_dir = work / f"prm-run-{head}-{data}"
    ckpt = run_dir / "checkpoints" / f"step-{steps}"
    if (ckpt / "prm.json").is_file():
        return ckpt
    run_dir.mkdir(parents=True, exist_ok=True)
    if data == "policy":
        log(f"  sampling the policy's own solutions to {problems} problems and labelling them with the checker…")
        train = policy_solutions(sampler or policy, problems, k=4, seed=21)
        held = policy_solutions(sampler or policy, 200, k=4, seed=22)
    else:
        train = [p.trl_row() for p in generate_problems(problems, seed=0, error_rate=0.5, **TASK)]
        held = [p.trl_row() for p in generate_problems(300, seed=1, error_rate=0.5, **TASK)]
    rows = [{**r, "split": "train"} for r in train] + [{**r, "split": "eval"} for r in held]
    (run_dir / "steps.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    alpha = rank if head == "implicit" else 2 * rank
    cfg = RunConfig(kind="prm", model=str(policy), device="cpu", max_steps=steps, batch_size=16,
                    learning_rate=lr, lora_r=rank, lora_alpha=alpha, warmup_ratio=0.05,
                    eval_every=max(1, steps // 4),
                    checkpoint_every=steps, log_every=50, max_length=320, max_prompt_length=200, seed=0,
                    step_separator=SEPARATOR, prm_head=head, prm_beta=1.0)

    def emit(kind: str, **data) -> None:
        if kind == "metric" and any(str(k).startswith("eval/") for k in data["values"]):
            v = data["values"]
            log(f"  PRM step {data['step']}: held-out step accuracy {v['eval/steps/accuracy']:.3f}, "
                f"F1 {v['eval/steps/f1']:.3f}, first-error F1 {v['eval/first_error/f1']:.3f}")
            (run_dir / "prm_eval.json").write_text(_json.dumps({"step": data["step"], **v}), encoding="utf-8")
        elif kind == "ended" and data.get("reason") == "failed":
            log(f"  PRM training failed: {data.get('error')}")

    trainer = PRMTrainer(cfg, run_dir, emit=emit)
    trainer.prepare()
    trainer.run()
    return ckpt


class ArithOracle:
    """The task's ground truth as a step scorer (core/arith_task's known intermediate results): a step scores 1
    when it and every step before it state the right result (the closing step: the right answer), else 0. What
    a perfect PRM would say: the ceiling of step search with this policy."""

    separator = SEPARATOR

    def __init__(self, problem) -> None:
        self.problem = problem

    def score_steps(self, prompt: str, steps: list[str]) -> list[float]:
        from workbench.core.answer_check import check_answer

        out, ok = [], True
        for k, step in enumerate(steps):
            if k < len(self.problem.true_values):
                found = re.search(r"=\s*(-?\d+)\s*\.?\s*$", step)
                ok = ok and found is not None and int(found.group(1)) == self.problem.true_values[k]
            else:
                ok = ok and check_answer(step, self.problem.reference_answer)
            out.append(1.0 if ok else 0.0)
        return out


class LikelihoodVerifier:
    """A step scorer that was not trained on step labels: the policy trained further on correct solutions only
    (a language model, --correct-steps), scoring a step by the probability of its least likely character after
    the prompt and the steps before it. A generative verifier: an arithmetic slip is one unlikely digit."""

    separator = SEPARATOR

    def __init__(self, folder: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = AutoModelForCausalLM.from_pretrained(folder).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)

    def score_steps(self, prompt: str, steps: list[str]) -> list[float]:
        return self.score_batch([(prompt, steps)])[0]

    def score_batch(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        import torch

        out = []
        with torch.inference_mode():
            for prompt, steps in items:
                head = policy_prompt(prompt)
                ids = self.tokenizer(head + SEPARATOR.join(steps))["input_ids"]  # one token per character
                logp = torch.log_softmax(self.model(input_ids=torch.tensor([ids])).logits[0, :-1].float(), -1)
                token_p = logp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0].exp()  # P(char i+1 | chars <= i)
                scores, at = [], len(head)
                for step in steps:
                    scores.append(float(token_p[at - 1:at - 1 + len(step)].min()) if step else 0.0)
                    at += len(step) + len(SEPARATOR)
                out.append(scores)
        return out


def evaluate(policy: Path, prm: Path, *, problems: int, k: int, temperature: float, top_p: float, max_new: int,
             seed: int, verifier: Path | None = None, log=print) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.core.answer_check import check_answer
    from workbench.core.arith_task import generate_problems
    from workbench.inference.generation import GenerationSettings
    from workbench.inference.guided_decoding import ProcessReward, SearchSettings, sample, step_search
    from workbench.inference.prm_scoring import PRMScorer

    model = AutoModelForCausalLM.from_pretrained(policy).eval()
    tokenizer = AutoTokenizer.from_pretrained(policy)
    scorer = PRMScorer(prm, device="cpu")
    outcome = ProcessReward(scorer, separator=scorer.separator)
    tests = generate_problems(problems, seed=seed, error_rate=0.0, **TASK)
    names = ("plain", "prm_steps", "best_of_n", "pass_at_k", "oracle_steps",
             *(["verifier_steps"] if verifier else []))
    checker = LikelihoodVerifier(verifier) if verifier else None
    right = {m: 0 for m in names}
    tokens = {m: 0 for m in names}
    seconds = {m: 0.0 for m in names}
    search = SearchSettings(k=k, max_steps=8, max_step_tokens=64, separator=scorer.separator)
    start = time.perf_counter()
    with torch.inference_mode():
        for i, p in enumerate(tests):
            ids = tokenizer(policy_prompt(p.prompt))["input_ids"]
            s = GenerationSettings(temperature=temperature, top_p=top_p, max_new_tokens=max_new, seed=seed * 10_000 + i)
            t = time.perf_counter()
            [one] = sample(model, tokenizer, ids, s, 1)
            seconds["plain"] += time.perf_counter() - t
            right["plain"] += check_answer(tokenizer.decode(one.ids, skip_special_tokens=True), p.reference_answer)
            tokens["plain"] += len(one.ids)
            step_scorers = {"prm_steps": scorer, "oracle_steps": ArithOracle(p),
                            **({"verifier_steps": checker} if checker is not None else {})}
            for method, step_scorer in step_scorers.items():  # the same search, ranked by each step scorer
                t = time.perf_counter()
                found = step_search(model, tokenizer, ids, p.prompt, step_scorer, s, search)
                seconds[method] += time.perf_counter() - t
                right[method] += check_answer(found.text, p.reference_answer)
                tokens[method] += found.tokens
            t = time.perf_counter()
            rows = sample(model, tokenizer, ids, s, k)
            texts = [tokenizer.decode(r.ids, skip_special_tokens=True) for r in rows]
            ranked = outcome.score([p.prompt] * k, texts)[:, 0]
            seconds["best_of_n"] += time.perf_counter() - t
            right["best_of_n"] += check_answer(texts[int(ranked.argmax())], p.reference_answer)
            right["pass_at_k"] += any(check_answer(x, p.reference_answer) for x in texts)
            tokens["best_of_n"] += sum(len(r.ids) for r in rows)
            tokens["pass_at_k"] = tokens["best_of_n"]
            if (i + 1) % 25 == 0 or i + 1 == len(tests):
                acc = ", ".join(f"{m} {right[m] / (i + 1):.3f}" for m in names)
                log(f"  {i + 1}/{len(tests)} problems: {acc}  ({time.perf_counter() - start:.0f} s)")
    n = len(tests)
    return {m: {"accuracy": right[m] / n, "correct": right[m], "tokens_per_problem": tokens[m] / n,
                "seconds_per_problem": seconds[m] / n if m != "pass_at_k" else math.nan} for m in names} | {
        "problems": n, "k": k, "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new, "seed": seed}


def held_out_step_accuracy(prm: Path, n: int = 300) -> float:
    """Step accuracy (threshold 0.5) of a PRM checkpoint on the PRM training's held-out problems (seed 1)."""
    from workbench.core.arith_task import generate_problems
    from workbench.inference.prm_scoring import PRMScorer

    held = generate_problems(n, seed=1, error_rate=0.5, **TASK)
    scores = PRMScorer(prm, device="cpu").score_batch([(p.prompt, list(p.steps)) for p in held], batch_size=32)
    pairs = [(s >= 0.5) == y for ss, p in zip(scores, held) for s, y in zip(ss, p.labels)]
    return sum(pairs) / len(pairs)


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "workbench-bench-guided-decoding",
                    help="where the trained models are kept (a rerun reuses them)")
    ap.add_argument("--policy-steps", type=int, default=1500)
    ap.add_argument("--prm-head", choices=("implicit", "classifier"), default="implicit", help="RunConfig.prm_head")
    ap.add_argument("--prm-data", choices=("policy", "injected"), default="policy",
                    help="the PRM's training solutions: the policy's own samples labelled by the checker, or the "
                         "task's injected errors")
    ap.add_argument("--prm-steps", type=int, default=800)
    ap.add_argument("--prm-problems", type=int, default=1500, help="problems (policy data: 4 samples each)")
    ap.add_argument("--prm-rank", type=int, default=16)
    ap.add_argument("--prm-lr", type=float, default=1e-3)
    ap.add_argument("--prm", type=Path, default=None,
                    help="score with this PRM checkpoint folder instead of training one (its base and tokenizer "
                         "are its own: any PRM of this task works with the policy)")
    ap.add_argument("--correct-steps", type=int, default=1200,
                    help="train the policy this many more steps on correct solutions: the PRM's base and the "
                         "likelihood verifier (0: the PRM's base is the policy, no verifier row)")
    ap.add_argument("--problems", type=int, default=200, help="held-out problems evaluated")
    ap.add_argument("--k", type=int, default=4, help="candidates per step (step search) = N (best-of-N)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--seed", type=int, default=7, help="the held-out problems' seed (training used 0, 1, 1000)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    a.work.mkdir(parents=True, exist_ok=True)
    policy = a.work / "policy"
    if not (policy / "config.json").is_file():
        print("training the policy…", flush=True)
        train_policy(policy, steps=a.policy_steps, log=lambda m: print(" ", m, flush=True))
    correct = None  # the policy trained further on correct solutions only: the PRM's base, the likelihood verifier
    if a.correct_steps:
        correct = a.work / "correct-lm"
        if not (correct / "arith_policy.json").is_file():
            print("training the policy further on correct solutions…", flush=True)
            train_policy(correct, steps=a.correct_steps, error_rate=0.0, lr=1.5e-3, seed=3, init=policy,
                         log=lambda m: print(" ", m, flush=True))
    if a.prm is not None:  # any PRM checkpoint (e.g. the PRM benchmark's): its own base model and tokenizer
        prm, prm_eval = a.prm, {"eval/steps/accuracy": held_out_step_accuracy(a.prm)}
    else:
        print("training the PRM (or reusing it)…", flush=True)
        prm = train_prm(a.work, correct or policy, steps=a.prm_steps, problems=a.prm_problems, rank=a.prm_rank,
                        lr=a.prm_lr, head=a.prm_head, data=a.prm_data, sampler=policy,
                        log=lambda m: print(m, flush=True))
        prm_eval = json.loads((prm.parents[1] / "prm_eval.json").read_text(encoding="utf-8"))
    print("evaluating…", flush=True)
    res = evaluate(policy, prm, problems=a.problems, k=a.k, temperature=a.temperature, top_p=a.top_p,
                   max_new=a.max_new_tokens, seed=a.seed, verifier=correct, log=lambda m: print(m, flush=True))
    (a.work / "results.json").write_text(json.dumps({**res, "prm_eval": prm_eval}, indent=2), encoding="utf-8")

    n, k = res["problems"], res["k"]
    print()
    print(f"Synthetic arithmetic (core/arith_task, {TASK['min_ops']}-{TASK['max_ops']} operations), {n} held-out "
          f"problems, temperature {a.temperature}, top-p {a.top_p}, <= {a.max_new_tokens} new tokens; "
          f"PRM ({a.prm_head} head, {a.prm_data} data) held-out step accuracy {prm_eval['eval/steps/accuracy']:.3f}")
    print()
    print("| method | samples per problem | final-answer accuracy (95% CI) | tokens decoded / problem |")
    print("|---|---|---|---|")
    rows = (("plain sampling", "plain", "1"),
            (f"PRM step search (k = {k} per step)", "prm_steps", f"{k} per step"),
            (f"best-of-{k} by the PRM (worst step)", "best_of_n", str(k)),
            (f"pass@{k} of those {k} samples (perfect ranker)", "pass_at_k", str(k)),
            (f"step search with the task's ground truth as PRM (k = {k}, ceiling)", "oracle_steps", f"{k} per step"),
            (f"step search ranked by a likelihood verifier (k = {k}; not a PRM)", "verifier_steps", f"{k} per step"))
    rows = tuple(r for r in rows if r[1] in res)
    for label, key, budget in rows:
        r = res[key]
        lo, hi = wilson(r["correct"], n)
        print(f"| {label} | {budget} | {r['accuracy']:.3f} ({lo:.3f}–{hi:.3f}) | {r['tokens_per_problem']:.0f} |")


if __name__ == "__main__":
    main()
