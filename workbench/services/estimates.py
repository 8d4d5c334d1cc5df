"""Memory and time estimates shown in the New Run dialog before launch (no torch: read the model's config.json).

Peers launch and let the run die of OOM; users ask for a pre-flight number (peers-product.md §2). These are
rough, documented upper-bound style estimates, not measurements.

Memory (bytes), for a decoder with P parameters, hidden size h, L layers, vocabulary V, intermediate size I:
    weights      = P × bytes(precision)                   (fp32: 4, bf16/fp16: 2; base weights are frozen)
    lora         = N_lora × 16                            (fp32 weight 4 + grad 4 + AdamW m, v 8 per LoRA parameter)
    activations  = 2B × T × h × L × a                     (2B sequences: chosen and rejected; T = max_length)
                   a = 34 bytes/2 × bytes(precision) per hidden unit per layer without recomputation
                   (Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models", 2022,
                   eq. 1: 34·s·b·h per layer in 16-bit, the attention-score term dropped since SDPA does not store
                   it), and a = bytes(precision) × 2 with gradient checkpointing (only each layer's input is kept)
    logits       = logprob_chunk × V × 4 × 3              (one fp32 chunk of logits, its log_softmax and grad)
    N_lora       = L × r × Σ over adapted projections (in + out)   (q,k,v,o,gate,up,down of a Llama-style block)
Parameters from config.json: P = V·h (embeddings) [+ V·h untied head] + L·(2h² + 2h·h_kv + 3h·I + 2h).

Time: a training step processes 2 × batch × grad_accum × T tokens; with LoRA the forward costs 2P FLOPs per token and
the backward 2P (activation gradients only; frozen weights get none), so 4P per token (Kaplan et al., "Scaling Laws
for Neural Language Models", 2020, §2.1 count 6P with weight gradients). Reference log-probs cost one forward (2P per
token) over every pair once. FLOP/s per device and precision come from DEVICE_FLOPS: effective rates (about a third of
peak) of a typical desktop CPU and a mid-range GPU; real speed varies by 3× either way, which the dialog says.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.eta import format_duration  # noqa: F401 - re-exported: one way to write a duration
from workbench.core.run_config import RunConfig

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# Effective (not peak) FLOP/s: what a training loop of this kind reaches (device kind -> precision -> FLOP/s).
DEVICE_FLOPS: dict[str, dict[str, float]] = {
    "cpu": {"fp32": 1.5e11, "bf16": 1.0e11, "fp16": 0.5e11},
    "cuda": {"fp32": 8e12, "bf16": 4e13, "fp16": 4e13},
    "mps": {"fp32": 2e12, "bf16": 3e12, "fp16": 4e12},
}
GIB = 1024**3


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs to know about a model (read from its config.json)."""

    hidden: int
    layers: int
    vocab: int
    intermediate: int
    kv_hidden: int
    tied: bool = True

    @property
    def parameters(self) -> int:
        h, L = self.hidden, self.layers
        per_layer = 2 * h * h + 2 * h * self.kv_hidden + 3 * h * self.intermediate + 2 * h
        head = 0 if self.tied else self.vocab * h
        return self.vocab * h + head + L * per_layer

    def lora_parameters(self, rank: int) -> int:
        h, i, kv = self.hidden, self.intermediate, self.kv_hidden
        per_layer = (h + h) + (h + kv) + (h + kv) + (h + h) + (h + i) + (h + i) + (i + h)
        return self.layers * rank * per_layer


@dataclass(frozen=True)
class Estimate:
    parameters: int
    lora_parameters: int
    weights_bytes: float
    lora_bytes: float
    activation_bytes: float
    logits_bytes: float
    steps: int
    seconds: float
    device: str

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.lora_bytes + self.activation_bytes + self.logits_bytes

    def summary(self) -> str:
        mem = self.total_bytes / GIB
        parts = (f"weights {self.weights_bytes / GIB:.2f} + LoRA/optimizer {self.lora_bytes / GIB:.2f} + "
                 f"activations {self.activation_bytes / GIB:.2f} + logits {self.logits_bytes / GIB:.2f} GiB")
        return (f"≈ {mem:.1f} GiB on {self.device} ({parts}); {self.parameters / 1e6:,.0f} M parameters, "
                f"{self.lora_parameters / 1e6:.2f} M trained; ≈ {format_duration(self.seconds)} for "
                f"{self.steps} step{'s' if self.steps != 1 else ''} (±3×)")


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    """A ModelShape from a transformers config.json dict (Llama/Qwen/Mistral/GPT-2 key names)."""
    h = int(config.get("hidden_size") or config.get("n_embd") or config.get("d_model"))
    layers = int(config.get("num_hidden_layers") or config.get("n_layer"))
    vocab = int(config.get("vocab_size"))
    inter = int(config.get("intermediate_size") or config.get("n_inner") or 4 * h)
    heads = int(config.get("num_attention_heads") or config.get("n_head") or 1)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    return ModelShape(h, layers, vocab, inter, h * kv_heads // heads, bool(config.get("tie_word_embeddings", True)))


def find_model_config(model: str) -> dict[str, Any] | None:
    """config.json of a local model folder or of a hub id already in the local Hugging Face cache (no network); for
    a .gguf file, the same keys read from its header (services.gguf_shape)."""
    if not model:
        return None
    p = Path(model).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf":  # the shape is in the file's header (issue #13)
        from workbench.services.gguf_shape import gguf_config

        return gguf_config(p)
    candidates = [p / "config.json"] if p.is_dir() else []
    if not p.exists() and "/" in model:
        hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" /
                                                                      "huggingface")) / "hub")
        snapshots = hub / f"models--{model.replace('/', '--')}" / "snapshots"
        if snapshots.is_dir():
            candidates += sorted(snapshots.glob("*/config.json"))
    for c in candidates:
        try:
            return json.loads(c.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def device_kind(device: str) -> str:
    """cpu | cuda | mps for a RunConfig.device; "auto" guesses without importing torch (nvidia-smi on PATH, or an
    Apple-silicon Mac), which is what the worker's pick_device will most likely choose."""
    d = device.lower()
    if d == "auto":
        if shutil.which("nvidia-smi"):
            return "cuda"
        return "mps" if sys.platform == "darwin" and platform.machine() == "arm64" else "cpu"
    if d.startswith("cuda"):
        return "cuda"
    return "mps" if d == "mps" else "cpu"


def estimate(cfg: RunConfig, shape: ModelShape, *, train_pairs: int, train_solutions: int = 0) -> Estimate:
    """Memory and time for `cfg` on `shape` with `train_pairs` labelled pairs, or for a PRM run (kind prm)
    `train_solutions` step-labelled solutions: one sequence each instead of a pair's two, a reference pass only
    for the implicit head (once per solution), none for a reward model; `eval_fraction` of them is held out."""
    b = BYTES.get(cfg.precision, 4)
    params = shape.parameters
    lora = shape.lora_parameters(cfg.lora_r)
    if cfg.method == "mah_dpo" and cfg.head_type == "full":  # a full V × H copy of the head per objective
        lora += max(1, len(cfg.objectives)) * shape.vocab * shape.hidden
    elif cfg.method == "mah_dpo":  # one low-rank hidden-space delta per objective: A [r, H] + B [H, r] each
        lora += max(1, len(cfg.objectives)) * 2 * cfg.head_rank * shape.hidden
    prm = cfg.kind == "prm"
    per_example = 1 if prm else 2  # sequences: a solution, or a pair's chosen and rejected
    examples = train_solutions if prm else train_pairs
    seqs, t = per_example * cfg.batch_size, cfg.max_length
    per_unit = 2 * b if cfg.gradient_checkpointing else 34 / 2 * b
    activations = seqs * t * shape.hidden * shape.layers * per_unit
    logits = min(cfg.logprob_chunk, seqs * t) * shape.vocab * 4 * 3
    per_step = max(1, cfg.batch_size * cfg.grad_accum)
    trained = max(1, round(examples * (1.0 - cfg.eval_fraction)))
    steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * trained / per_step))
    kind = device_kind(cfg.device)
    flops = DEVICE_FLOPS[kind].get(cfg.precision, DEVICE_FLOPS[kind]["fp32"])
    train_flops = 4 * params * per_example * per_step * t * steps
    with_reference = cfg.kind == "policy" or (prm and cfg.prm_head == "implicit")
    reference_flops = 2 * params * per_example * examples * t if with_reference else 0
    seconds = (train_flops + reference_flops) / flops
    label = {"cuda": "GPU", "mps": "Apple GPU", "cpu": "CPU"}[kind]
    return Estimate(params, lora, params * b, lora * 16, activations, logits, steps, seconds, label)
