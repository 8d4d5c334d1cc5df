"""The training loop (DESIGN.md §5), readable top to bottom like nanoGPT's train.py.

prepare(): load model -> attach LoRA -> tokenize (the method's pairs) -> reference log-probs once (skipped for
reference-free losses) -> the method's one-off work (MAH-DPO heads, MODPO margins) -> optimizer + schedule
(-> restore a checkpoint, with the method's files, when resuming).
run():     per optimizer step: k micro-batches of (policy log-probs -> loss / k -> backward) -> clip -> AdamW step
-> schedule -> metrics; evaluation every eval_every steps, a checkpoint every checkpoint_every steps and at the end.
A stop request is honoured between steps: checkpoint, then return "stopped".
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.engine.checkpoint import Position, latest_checkpoint, load_checkpoint, save_checkpoint
from workbench.training.engine.batching import batches_per_epoch, epoch_batches
from workbench.training.engine.data import Batch, collate, read_run_data, tokenize_pairs
from workbench.training.engine.failures import check_finite
from workbench.training.preference.heads import has_heads
from workbench.training.engine.lora import attach_lora, load_initial_adapter
from workbench.training.preference.methods import MethodContext, make_method, method_class
from workbench.training.engine.model_loading import load_model
from workbench.training.engine.peak_memory import peak_memory_mb
from workbench.training.engine.reference_cache import ReferenceCache, upfront_batches
from workbench.training.engine.schedule import make_scheduler

Emit = Callable[..., None]  # emit(event_type, **fields): a protocol event (workbench.core.protocol)
_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _no_emit(_type: str, **_data: Any) -> None:
    return None


def disable_dropout(model: torch.nn.Module) -> None:
    """DPO trains without dropout (policy and cached reference must see the same network); LoRA's own dropout
    (cfg.lora_dropout) is the user's explicit choice and stays."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout) and "lora_dropout" not in name:
            module.p = 0.0
    config = getattr(model, "config", None)
    for key in ("attention_dropout", "hidden_dropout", "dropout", "resid_pdrop", "attn_pdrop", "embd_pdrop"):
        if config is not None and isinstance(getattr(config, key, None), float):
            setattr(config, key, 0.0)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, emit: Emit | None = None,
                 should_stop: Callable[[], bool] | None = None, device: torch.device | None = None) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        self.emit, self.should_stop = emit or _no_emit, should_stop or (lambda: False)
        self.device_override = device
        self.pos = Position()
        self.last_loss = math.nan

    # ---- setup -------------------------------------------------------------------------------------------
    def prepare(self, *, resume: bool = False) -> None:
        cfg = self.cfg
        problems = cfg.problems()
        if problems:
            raise RunError("; ".join(problems))
        seed_everything(cfg.seed)
        self.load_lora_model(resume=resume)
        self.distribute_model()
        self._tokenize()
        self.method = make_method(cfg, self.data.objectives)
        self._reference()
        self.method.prepare(MethodContext(self.model, self.data, self.rows, self.run_dir, self.device,
                                          self.tokenizer.pad_token_id,
                                          self.ref.table() if self.ref is not None and self.ref.is_complete()
                                          else None,
                                          lambda message, fraction: self._status("reference", message, fraction)))
        if cfg.init_adapter and not resume and has_heads(Path(cfg.init_adapter)):
            self.method.load_files(Path(cfg.init_adapter))  # MAH-DPO: continue from the parent's heads too
        self.build_optimizer([p for p in self.model.parameters() if p.requires_grad] + self.method.extra_parameters())
        if resume:
            self._restore()

    def load_lora_model(self, *, resume: bool) -> Any:
        """Base model + tokenizer onto the device, a fresh LoRA adapter (cfg.init_adapter's weights when a new run
        starts from one), adapter in fp32, dropout off, gradient checkpointing as configured; returns the
        LoadedModel (self.model is the PeftModel)."""
        cfg = self.cfg
        self._status("loading", f"loading {cfg.model}")
        loaded = load_model(cfg, device=self.device_override, for_training=True)
        self.device, self.tokenizer = loaded.device, loaded.tokenizer
        self.model = attach_lora(loaded.model, cfg)
        if cfg.init_adapter and not resume:
            load_initial_adapter(self.model, cfg.init_adapter)
        for p in self.model.parameters():  # adapter in fp32 even over bf16/fp16 base weights (stable AdamW)
            if p.requires_grad:
                p.data = p.data.float()
        disable_dropout(self.model)
        if cfg.gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.train()
        return loaded

    def build_optimizer(self, params: list[torch.nn.Parameter] | list[dict]) -> None:
        """AdamW over `params` (or parameter groups, each may set its own lr), the learning-rate schedule and
        (fp16 on CUDA) the grad scaler."""
        cfg = self.cfg
        # fused AdamW (one kernel over all LoRA tensors): 68 -> 17 ms a step for SmolLM2's 420 LoRA tensors on CPU
        # (not under FSDP: its sharded DTensor parameters and the replicated plain ones cannot share one kernel)
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") and not cfg.fsdp else {}
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, **fused)
        self.scheduler = make_scheduler(self.optimizer, total_steps=self.total_steps,
                                        warmup_ratio=cfg.warmup_ratio, kind=cfg.scheduler)
        self.scaler = (torch.amp.GradScaler("cuda") if cfg.precision == "fp16" and self.device.type == "cuda"
                       else None)

    def _tokenize(self) -> None:
        cfg = self.cfg
        self._status("tokenizing", "tokenizing pairs")
        rows = read_run_data(self.run_dir / "data.jsonl")
        if cfg.objectives:
            rows = [r for r in rows if r.objective in set(cfg.objectives)]
        self.rows = rows = self.train_rows(rows)
        self.data = tokenize_pairs(rows, self.tokenizer, max_length=cfg.max_length,
                                   max_prompt_length=cfg.max_prompt_length)
        self.train_idx, self.eval_idx = self.data.indices("train"), self.data.indices("eval")
        if not self.train_idx:
            raise RunError("no training pairs: label some pairs for the chosen objectives (or lower eval_fraction)")
        if self.data.dropped_long_prompt or self.data.truncated:
            self.emit("log", level="warning", message=(
                f"{self.data.dropped_long_prompt} pair(s) dropped (prompt longer than max_prompt_length), "
                f"{self.data.truncated} truncated to max_length"))
        self.batches_per_epoch = batches_per_epoch(cfg, self.data, self.train_idx)
        per_epoch = max(1, self.batches_per_epoch // cfg.grad_accum)
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))

    def train_rows(self, rows: list) -> list:
        """The pairs this run trains and evaluates on: the method's choice (MODPO keeps its target's)."""
        return method_class(self.cfg).train_rows(self.cfg, rows)

    def _reference(self) -> None:
        """Reference log-probs per pair, cached in run_dir/ref_logps.pt: lazily, the first time a batch is used
        (reference_cache.py), or all before the first step with cfg.reference = "upfront" (and for methods that
        need every pair's reference in `prepare`, MODPO)."""
        self.ref: ReferenceCache | None = None
        if not self.method.needs_reference:
            return
        cfg = self.cfg
        self.ref = ReferenceCache(self.model, self.data, chunk_tokens=cfg.logprob_chunk,
                                  pad_id=self.tokenizer.pad_token_id, model_id=cfg.model,
                                  path=self.run_dir / "ref_logps.pt", share_prompt=cfg.prefix_sharing)
        if cfg.reference == "upfront" or self.method.needs_full_reference:
            self._status("reference", "computing reference log-probs", 0.0)
            self.ref.fill(upfront_batches(cfg, self.data, self.train_idx, self.eval_idx), device=self.device,
                          progress=lambda done, total: self._status(
                              "reference", "computing reference log-probs", done / max(1, total)))
            self.ref.save()

    def _restore(self) -> None:
        path = latest_checkpoint(self.run_dir)
        if path is None:
            self.emit("log", level="warning", message="no checkpoint to resume from; starting at step 0")
            return
        self.pos, _ = load_checkpoint(path, self.model, self.optimizer, self.scheduler, scaler=self.scaler)
        self.load_files(path)
        self.emit("log", level="info", message=f"resumed from {path.name}")

    def save_files(self, folder: Path) -> None:
        """Files a checkpoint holds beside the adapter: the method's (MAH-DPO heads)."""
        self.method.save_files(folder)

    def load_files(self, folder: Path) -> None:
        """Read back what save_files wrote (resuming)."""
        self.method.load_files(folder)

    def distribute_model(self) -> None:
        """Shard the model over processes (FSDP, workbench.training.parallel.parallel_trainer); one process: nothing."""

    def sync_gradients(self) -> None:
        """Combine the gradients of all processes before clipping (parallel_trainer); one process: nothing."""

    def clip_gradients(self, params: list[torch.nn.Parameter], max_norm: float) -> float:
        """Clip to `max_norm` (total 2-norm); returns the norm before clipping."""
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm))

    # ---- data --------------------------------------------------------------------------------------------
    def micro_batches(self) -> Iterator[list[int]]:
        """Endless micro-batches from self.pos onwards; the batch order of an epoch depends on (seed, epoch) only,
        so a resumed run sees exactly the batches the uninterrupted run would have seen."""
        while True:
            order = epoch_batches(self.cfg, self.data, self.train_idx, self.pos.epoch)  # balanced or proportional
            while self.pos.batch < len(order):
                self.pos.batch += 1
                yield order[self.pos.batch - 1]
            self.pos.epoch, self.pos.batch = self.pos.epoch + 1, 0

    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = _AUTOCAST.get(self.cfg.precision)
        if dtype is None or self.device.type not in ("cuda", "cpu"):
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    # ---- one optimizer step --------------------------------------------------------------------------------
    def forward_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        if self.ref is not None:
            self.ref.ensure(batch)  # the first time these pairs are used: their reference, from this very batch
        with self._autocast():
            lp = self.method.policy_logps(self.model, batch)  # sum [2B], count [2B]
        return self.method.loss(lp, self.ref, batch)

    def collate_batch(self, indices: list[int]) -> Any:
        """One micro-batch of self.data on the device (reward-model trainers collate their own rows)."""
        return collate(self.data, indices, self.tokenizer.pad_token_id, self.device)

    def train_step(self, batches: Iterator[list[int]]) -> dict[str, float]:
        """k micro-batches -> gradients of the mean loss -> clip -> AdamW -> schedule; returns step metrics."""
        k = self.cfg.grad_accum
        sums: dict[str, float] = {}
        tokens = 0
        for _ in range(k):
            batch = self.collate_batch(next(batches))  # input_ids [2B, T]
            loss, metrics = self.forward_loss(batch)
            check_finite(metrics["loss"], self.cfg, self.pos.step + 1)
            scaled = loss / k  # mean over the k micro-batches = the loss of one k-times larger batch
            (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            tokens += int(batch.attention_mask.sum())
            for name, v in metrics.items():
                sums[name] = sums.get(name, 0.0) + v / k
        self.sync_gradients()
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        max_norm = self.cfg.max_grad_norm if self.cfg.max_grad_norm > 0 else math.inf
        grad_norm = self.clip_gradients(params, max_norm)
        lr = self.optimizer.param_groups[0]["lr"]
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.pos.step += 1
        return {**sums, "grad_norm": grad_norm, "learning_rate": lr, "_tokens": float(tokens)}

    # ---- evaluation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean metrics over the held-out (split == "eval") pairs, weighted by pairs per batch; keys eval/..."""
        self._status("evaluating", f"evaluating {len(self.eval_idx)} held-out pairs")
        totals: dict[str, float] = {}
        weight: dict[str, float] = {}
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(self.eval_idx), self.cfg.batch_size):
            batch = collate(self.data, self.eval_idx[start:start + self.cfg.batch_size], pad, self.device)
            _, metrics = self.forward_loss(batch)
            counts = {self.data.objectives[k]: int((batch.objective == k).sum())
                      for k in torch.unique(batch.objective).tolist()}
            for name, v in metrics.items():
                n = counts.get(name.split("/", 1)[0], batch.index.numel())
                totals[name] = totals.get(name, 0.0) + v * n
                weight[name] = weight.get(name, 0.0) + n
        return {f"eval/{k}": v / weight[k] for k, v in totals.items()}

    def report_eval(self) -> None:
        """Held-out metrics go out twice: as `eval/...` metric series (plotted next to the training curves) and
        as an eval event whose keys are `<objective>/<metric>` (+ the overall `loss`), the reward vector the
        store files per objective."""
        values = self.evaluate()
        self.emit("metric", step=self.pos.step, values=values)
        names = set(self.data.objectives)
        vector = {k[5:]: v for k, v in values.items() if k[5:].split("/", 1)[0] in names}
        vector["loss"] = values["eval/loss"]
        self.emit("eval", step=self.pos.step, values=vector, checkpoint=None, weights=None)

    # ---- the loop ------------------------------------------------------------------------------------------
    def run(self) -> str:
        """Train to total_steps; returns "finished" or "stopped" (errors propagate to the worker)."""
        cfg = self.cfg
        batches = self.micro_batches()
        start_step, t_start = self.pos.step, time.perf_counter()
        while self.pos.step < self.total_steps:
            if self.should_stop():
                self.save()
                return "stopped"
            self._status("training", f"step {self.pos.step + 1}/{self.total_steps}",
                         self.pos.step / self.total_steps)
            t0 = time.perf_counter()
            values = self.train_step(batches)
            self.last_loss = values["loss"]
            dt = time.perf_counter() - t0
            rate = (time.perf_counter() - t_start) / (self.pos.step - start_step)
            values.update(tokens_per_s=values.pop("_tokens") / dt, step_time_s=dt,
                          peak_memory_mb=peak_memory_mb(self.device),
                          eta_s=rate * (self.total_steps - self.pos.step),
                          epoch=self.pos.epoch + self.pos.batch / self.batches_per_epoch)
            if self.pos.step % cfg.log_every == 0 or self.pos.step == self.total_steps:
                self.emit("metric", step=self.pos.step, values=values)
            if self.eval_idx and cfg.eval_every and self.pos.step % cfg.eval_every == 0:
                self.report_eval()
            if cfg.checkpoint_every and self.pos.step % cfg.checkpoint_every == 0:
                self.save()
        if self.eval_idx and not (cfg.eval_every and self.pos.step % cfg.eval_every == 0):
            self.report_eval()
        if not (cfg.checkpoint_every and self.pos.step % cfg.checkpoint_every == 0):
            self.save()
        return "finished"

    def save(self) -> str:
        self._status("saving", f"saving checkpoint at step {self.pos.step}")
        if self.ref is not None:
            self.ref.save()
        path = save_checkpoint(self.run_dir, self.model, self.optimizer, self.scheduler, self.pos,
                               scaler=self.scaler, save_files=self.save_files)
        self.emit("checkpoint", step=self.pos.step, path=path)
        return path

    def _status(self, state: str, message: str, progress: float | None = None) -> None:
        self.emit("status", state=state, message=message, progress=progress, step=self.pos.step,
                  total_steps=getattr(self, "total_steps", 0))
