"""RunConfig: everything a training run needs, as one typed dataclass (DESIGN.md §3).

Written by the GUI / CLI into `run_dir/config.json`, read by the worker. Field metadata carries the help text
shown in the new-run dialog and `workbench train --help-config`.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.weights import WeightError, validate_weights

METHODS = ("dpo", "weighted", "mah_dpo", "modpo", "soup")
KINDS = ("policy", "prm", "reward_model")
PRECISIONS = ("fp32", "bf16", "fp16")
SCHEDULERS = ("cosine", "linear", "constant")
REFERENCE_PASSES = ("lazy", "upfront")
F_DIVERGENCES = ("reverse_kl", "forward_kl", "js_divergence", "alpha_divergence")
OBJECTIVE_SAMPLING = ("balanced", "proportional")
PRM_HEADS = ("classifier", "implicit")


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class RunConfig:
    # --- what ---------------------------------------------------------------------------------------------
    name: str = _f("run", "A name for the run, shown in the runs table.")
    model: str = _f("", "Base model: a local folder, a hub id (e.g. HuggingFaceTB/SmolLM2-135M-Instruct) or a .gguf file.")
    gguf_file: str = _f("", "File name inside the model folder when loading a GGUF checkpoint.")
    revision: str = _f("", "Hub revision (branch, tag or commit); empty = default branch.")
    trust_remote_code: bool = _f(False, "Run the model repository's own Python code. Only for models you trust.")
    allow_pickle: bool = _f(False, "Allow .bin (pickle) weights when no safetensors exist. Only for models you trust.")
    kind: str = _f("policy", "What the run trains: policy = a LoRA policy by a preference method; prm = a process "
                             "reward model on step labels; reward_model = a vector (one output per objective) "
                             "Bradley-Terry outcome reward model on the pair labels.", choices=KINDS)
    method: str = _f("dpo", "dpo | weighted | mah_dpo | modpo | soup (see LOSSES.md).", choices=METHODS)
    objectives: list = _f([], "Objectives whose pairs are trained on (empty = all in the data).")
    weights: dict = _f({}, "Per-objective weights for 'weighted' and 'modpo' (normalised to sum 1).")
    # --- loss -----------------------------------------------------------------------------------------------
    losses: dict = _f({"sigmoid": 1.0}, "Loss names (LOSSES.md) and their weights; several combine as a weighted sum.")
    beta: float = _f(0.1, "β: strength of the KL constraint to the reference (higher = stay closer).")
    label_smoothing: float = _f(0.0, "ε for cdpo / robust / exo_pair / aot losses (estimated label-flip rate).")
    rpo_alpha: float = _f(0.0, "RPO: weight of the NLL term on the chosen response (0 = off).")
    wpo: bool = _f(False, "WPO: weight each pair by the policy's own probability of both responses.")
    f_divergence: str = _f("reverse_kl", "Divergence whose score replaces the log-ratio.", choices=F_DIVERGENCES)
    f_alpha: float = _f(0.5, "α of alpha_divergence.")
    simpo_gamma: float = _f(0.5, "SimPO target margin γ (in units of β).")
    orpo_lambda: float = _f(0.1, "ORPO: weight λ of the odds-ratio term.")
    discopop_tau: float = _f(0.05, "DiscoPOP temperature τ.")
    # --- multi-objective ---------------------------------------------------------------------------------------
    head_rank: int = _f(16, "MAH-DPO: rank of each objective head's low-rank delta on the output head.")
    head_type: str = _f("low_rank", "MAH-DPO heads: 'low_rank' = a rank-r delta per objective on the frozen output "
                                    "head (small); 'full' = the paper's full copy of the output head per objective "
                                    "(vocab × hidden parameters each).", choices=("low_rank", "full"))
    objective_sampling: str = _f("balanced", "weighted / MAH-DPO batches: 'balanced' = every micro-batch holds "
                                             "batch_size/K pairs of each of the K objectives (small objectives "
                                             "repeat); 'proportional' = pairs drawn as they come, so an objective's "
                                             "share follows its pair count.", choices=OBJECTIVE_SAMPLING)
    modpo_target: str = _f("", "MODPO: the objective trained by DPO; the others give margins.")
    margin_adapters: dict = _f({}, "MODPO: objective -> adapter folder of an earlier run (its implicit reward).")
    margin_scorers: dict = _f({}, "MODPO: objective -> scorer name (built-in or from the project's scorers.py).")
    soup_adapters: dict = _f({}, "Soup: objective -> adapter folder of an earlier run.")
    rm_center_coefficient: float = _f(0.0, "Reward model (kind = reward_model): TRL's center_rewards_coefficient, "
                                           "adds c·mean((r_chosen + r_rejected)²) so rewards stay centred on 0 "
                                           "(0.01 is TRL's suggestion; 0 = off).")
    init_adapter: str = _f("", "Start the adapter (and MAH-DPO heads) from this checkpoint folder of an earlier run, "
                               "e.g. a round's parent; empty = a fresh adapter. The reference stays the base model.")
    # --- LoRA -----------------------------------------------------------------------------------------------
    lora_r: int = _f(16, "LoRA rank.")
    lora_alpha: int = _f(32, "LoRA alpha (scaling = alpha / rank).")
    lora_dropout: float = _f(0.0, "LoRA dropout (0: dropout is off for DPO).")
    target_modules: list = _f([], "Module names to adapt; empty = the usual attention+MLP projections for the architecture.")
    # --- optimisation ---------------------------------------------------------------------------------------
    learning_rate: float = _f(5e-5, "Peak learning rate of AdamW.")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    scheduler: str = _f("cosine", "Learning-rate schedule after warm-up.", choices=SCHEDULERS)
    warmup_ratio: float = _f(0.1, "Fraction of the steps spent warming up.")
    max_steps: int = _f(0, "Optimizer steps; 0 = derive from epochs.")
    epochs: float = _f(1.0, "Passes over the training pairs (used when max_steps = 0).")
    batch_size: int = _f(4, "Pairs per micro-batch. Lower it when memory runs out.")
    grad_accum: int = _f(1, "Micro-batches per optimizer step (effective batch = batch_size × grad_accum).")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0 = off).")
    precision: str = _f("fp32", "fp32 | bf16 | fp16 autocast.", choices=PRECISIONS)
    gradient_checkpointing: bool = _f(False, "Trade compute for memory: recompute activations in backward.")
    seed: int = _f(0, "Random seed (data order, LoRA init).")
    device: str = _f("auto", "auto | cpu | cuda | cuda:N | mps.")
    # --- data -----------------------------------------------------------------------------------------------
    max_length: int = _f(512, "Max tokens of prompt + response; longer responses are truncated.")
    max_prompt_length: int = _f(256, "Max prompt tokens; pairs whose prompt is longer are dropped and counted.")
    reference: str = _f("lazy", "lazy: a pair's reference log-probs are computed the first time it is trained on "
                                "(a short run pays only for its pairs); upfront: all before the first step.",
                        choices=REFERENCE_PASSES)
    prefix_sharing: bool = _f(True, "Run each pair's prompt once for both responses (same log-probs, less compute; "
                                    "off = two full rows per pair).")
    logprob_chunk: int = _f(1024, "Tokens per chunk when computing log-probs (bounds the logits memory).")
    eval_fraction: float = _f(0.1, "Fraction of pairs held out for evaluation.")
    # --- process reward models (kind = prm) -------------------------------------------------------------------
    step_separator: str = _f("\n", "PRM: text appended after every step; the model scores a step at the last token "
                                    "of its separator (TRL's step_separator). Stored in the checkpoint, so scoring "
                                    "uses the same one.")
    prm_head: str = _f("classifier", "PRM: how a step is scored. classifier = TRL PRMTrainer's 2-class head on the "
                                     "separator's hidden state; implicit = sigmoid(prm_beta x the sum of "
                                     "log pi/pi_ref over the solution's tokens up to the separator + a bias): an "
                                     "implicit PRM reading the base model's own token probabilities (learns far "
                                     "faster from few labels when the base knows the task; README).",
                       choices=PRM_HEADS)
    prm_beta: float = _f(1.0, "PRM (implicit head): beta scaling the summed log-likelihood ratio.")
    separator_after_prompt: bool = _f(True, "PRM: also put the separator between the prompt and the first step "
                                            "(off = TRL's training layout, prompt directly followed by step 1).")
    # --- evaluation (reward vectors) ------------------------------------------------------------------------
    eval_scorers: dict = _f({}, "Objective -> scorer (built-in or from the project's scorers.py) rating generations; "
                                "objectives without one are rated by held-out implicit-reward accuracy.")
    eval_reward_model: str = _f("", "Checkpoint folder of a reward_model run: its reward of each generation, per "
                                    "objective it knows, becomes <objective>/reward (the objective's reward axis "
                                    "when no eval scorer is set); empty = none.")
    eval_guide: dict = _f({}, "Reward-guided decoding for the evaluation generations: {mode: prm_steps | best_of_n, "
                              "checkpoint: PRM or reward-model checkpoint folder, k or n: candidates, temperature} "
                              "(seeded sampling, inference/guided_eval.py); empty = greedy decoding.")
    eval_prompts: int = _f(16, "Held-out prompts generated on when evaluating a checkpoint or mixture.")
    eval_max_new_tokens: int = _f(64, "Max new tokens per evaluation generation.")
    sweep_points: int = _f(5, "Sweep: weight vectors on the simplex grid per objective axis (2 objectives: points).")
    # --- more than one GPU (README "More than one GPU") -----------------------------------------------------------
    processes: int = _f(1, "Training processes (one per GPU) launched by torchrun; the batch is split over them, "
                           "so results match one process with the same batch_size.")
    fsdp: bool = _f(False, "With processes > 1: shard the frozen base model's layers over the processes (FSDP) "
                           "for models larger than one GPU.")
    collective_timeout_s: float = _f(600.0, "With processes > 1: seconds a process waits for the others before "
                                            "the run ends as crashed (a hung GPU or node).")
    # --- bookkeeping ------------------------------------------------------------------------------------------
    checkpoint_every: int = _f(50, "Save a checkpoint every N optimizer steps (and always at the end).")
    eval_every: int = _f(25, "Evaluate on held-out pairs every M optimizer steps (0 = only at the end).")
    log_every: int = _f(1, "Emit a metric event every N optimizer steps.")
    active_candidates: int = _f(1000, "Unlabelled pairs the finished run scores (implicit-reward margin) for the "
                                      "'active' labelling order; 0 = skip that pass.")

    # ---------------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown run setting(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a .json or .toml file (a TOML file may put the settings under a [run] table)."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
            data = data.get("run", data)
        else:
            data = json.loads(text)
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def problems(self) -> list[str]:
        """Human-readable reasons this configuration cannot run (empty when it can)."""
        out: list[str] = []
        if self.kind not in KINDS:
            out.append(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.method not in METHODS:
            out.append(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.precision not in PRECISIONS:
            out.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.scheduler not in SCHEDULERS:
            out.append(f"scheduler must be one of {', '.join(SCHEDULERS)}")
        if self.head_type not in ("low_rank", "full"):
            out.append("head_type must be one of low_rank, full")
        if self.objective_sampling not in OBJECTIVE_SAMPLING:
            out.append(f"objective_sampling must be one of {', '.join(OBJECTIVE_SAMPLING)}")
        if self.f_divergence not in F_DIVERGENCES:
            out.append(f"f_divergence must be one of {', '.join(F_DIVERGENCES)}")
        if self.reference not in REFERENCE_PASSES:
            out.append(f"reference must be one of {', '.join(REFERENCE_PASSES)}")
        if not self.losses:
            out.append("choose at least one loss")
        if self.beta <= 0:
            out.append("beta must be > 0")
        if not 0 <= self.label_smoothing < 0.5:
            out.append("label_smoothing must be in [0, 0.5)")
        if self.batch_size < 1 or self.grad_accum < 1:
            out.append("batch_size and grad_accum must be at least 1")
        if self.lora_r < 1:
            out.append("lora_r must be at least 1")
        if self.max_prompt_length >= self.max_length:
            out.append("max_prompt_length must be smaller than max_length")
        if self.learning_rate <= 0:
            out.append("learning_rate must be > 0")
        if self.weights:
            try:
                validate_weights(self.weights)
            except WeightError as exc:
                out.append(str(exc))
        if self.processes < 1:
            out.append("processes must be at least 1")
        if self.fsdp and self.processes < 2:
            out.append("fsdp shards the model over several processes: set processes to 2 or more")
        if self.kind in KINDS and self.kind != "policy" and self.processes > 1:
            out.append(f"{self.kind} runs train in one process: set processes to 1")
        if self.collective_timeout_s <= 0:
            out.append("collective_timeout_s must be > 0")
        if self.prm_head not in PRM_HEADS:
            out.append(f"prm_head must be one of {', '.join(PRM_HEADS)}")
        if self.prm_beta <= 0:
            out.append("prm_beta must be > 0")
        if self.kind == "prm" and not self.step_separator:
            out.append("step_separator must not be empty (the PRM scores each step at its separator)")
        if self.rm_center_coefficient < 0:
            out.append("rm_center_coefficient must be >= 0")
        if self.active_candidates < 0:
            out.append("active_candidates must be >= 0")
        return out

    def normalised_weights(self, objectives: list[str]) -> dict[str, float]:
        """Weights over `objectives`, summing to 1 (equal when none were given)."""
        raw = {o: float(self.weights.get(o, 0.0 if self.weights else 1.0)) for o in objectives}
        total = sum(raw.values())
        if total <= 0:
            return {o: 1.0 / len(objectives) for o in objectives} if objectives else {}
        return {o: w / total for o, w in raw.items()}


def method_text(config: dict) -> str:
    """What a run trains, in a few words (the runs table's Method column): its preference method for a policy,
    "PRM (implicit head)" / "PRM (classifier head)" for a process reward model, "reward model" for a vector RM."""
    kind = str(config.get("kind") or "policy")
    if kind == "prm":
        return f"PRM ({config.get('prm_head') or 'classifier'} head)"
    if kind == "reward_model":
        return "reward model"
    return str(config.get("method", ""))


def help_text() -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(RunConfig)}
