"""Training the vector outcome reward model (`kind = "reward_model"`, issue #17 item 4): workbench.training.trainer's
loop with the model, loss and checkpoint files of workbench.training.reward_models.vector_rm.

What is the policy Trainer's and reused as it is: the run data (data.jsonl with per-objective pairs and its eval
split), tokenisation with chat templates, length-grouped or objective-balanced micro-batches, gradient accumulation,
clipping, AdamW + schedule, stop/resume, metric and eval events, checkpoints without pickle. What differs:
prepare() (no reference model, no preference method: a LoRA trunk + a K-output head), forward_loss() (the
Bradley-Terry loss on each pair's own objective output), the head in every checkpoint, and, once a run finishes,
the reward model's suggestions and margins for the unlabelled pairs (rm_suggestions.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from workbench.core.errors import RunError
from workbench.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from workbench.training.data import Batch, PairRow
from workbench.training.lora import attach_lora, load_initial_adapter
from workbench.training.model_loading import load_model
from workbench.training.reward_models.vector_rm import (RM_HEAD, RewardHead, RMInfo, bt_loss, hidden_size,
                                                        last_token_hidden, load_head, pair_metrics, save_head)
from workbench.training.schedule import make_scheduler
from workbench.training.trainer import Trainer, disable_dropout, seed_everything


class VectorRMTrainer(Trainer):
    """`VectorRMTrainer(cfg, run_dir, emit=, should_stop=)`, `prepare(resume=)`, `run()`, `pos.step`: the shape of
    the policy Trainer (workbench.training.reward_models)."""

    def prepare(self, *, resume: bool = False) -> None:
        cfg = self.cfg
        problems = cfg.problems()
        if problems:
            raise RunError("; ".join(problems))
        seed_everything(cfg.seed)
        self._status("loading", f"loading {cfg.model}")
        loaded = load_model(cfg, device=self.device_override, for_training=True)
        self.device, self.tokenizer = loaded.device, loaded.tokenizer
        self.model = attach_lora(loaded.model, cfg)
        for p in self.model.parameters():  # adapter in fp32 even over bf16/fp16 base weights (stable AdamW)
            if p.requires_grad:
                p.data = p.data.float()
        disable_dropout(self.model)
        if cfg.gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.train()
        self._tokenize()
        self.ref = None  # a reward model has no reference
        self.info = RMInfo(objectives=list(self.data.objectives), base_model=cfg.model,
                           hidden=hidden_size(loaded.model), max_length=cfg.max_length,
                           max_prompt_length=cfg.max_prompt_length, revision=cfg.revision, gguf_file=cfg.gguf_file)
        self.head = RewardHead(self.info.hidden, len(self.info.objectives), seed=cfg.seed).to(self.device)
        if cfg.init_adapter and not resume:
            load_initial_adapter(self.model, cfg.init_adapter)
            if (Path(cfg.init_adapter) / RM_HEAD).is_file():  # continue a reward model: its head too
                load_head(cfg.init_adapter, self.head)
        params = [p for p in self.model.parameters() if p.requires_grad] + list(self.head.parameters())
        fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, **fused)
        self.scheduler = make_scheduler(self.optimizer, total_steps=self.total_steps,
                                        warmup_ratio=cfg.warmup_ratio, kind=cfg.scheduler)
        self.scaler = (torch.amp.GradScaler("cuda") if cfg.precision == "fp16" and self.device.type == "cuda"
                       else None)
        if resume:
            self._restore()

    def train_rows(self, rows: list[PairRow]) -> list[PairRow]:
        """Every labelled pair: each objective's pairs train its own output (no preference method involved)."""
        return rows

    def _restore(self) -> None:
        path = latest_checkpoint(self.run_dir)
        if path is None:
            self.emit("log", level="warning", message="no checkpoint to resume from; starting at step 0")
            return
        self.pos, _ = load_checkpoint(path, self.model, self.optimizer, self.scheduler, scaler=self.scaler)
        load_head(path, self.head)
        self.emit("log", level="info", message=f"resumed from {path.name}")

    # ---- the loss ----------------------------------------------------------------------------------------------
    def pair_rewards(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, K], [B, K]) rewards of the chosen and the rejected rows of a collated batch."""
        with self._autocast():
            h = last_token_hidden(self.model, batch.input_ids, batch.attention_mask)  # [2B, H]
        r = self.head(h)  # [2B, K], fp32 outside autocast
        b = batch.index.numel()
        return r[:b], r[b:]

    def forward_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        r_chosen, r_rejected = self.pair_rewards(batch)
        loss, rc, rr = bt_loss(r_chosen, r_rejected, batch.objective, center=self.cfg.rm_center_coefficient)
        return loss, pair_metrics(loss, rc, rr, batch.objective, self.data.objectives)

    # ---- checkpoints and the end of the run ------------------------------------------------------------------
    def save(self) -> str:
        self._status("saving", f"saving checkpoint at step {self.pos.step}")
        path = save_checkpoint(self.run_dir, self.model, self.optimizer, self.scheduler, self.pos,
                               scaler=self.scaler, save_files=lambda folder: save_head(folder, self.head, self.info))
        self.emit("checkpoint", step=self.pos.step, path=path)
        return path

    def run(self) -> str:
        reason = super().run()
        if reason == "finished" and self.cfg.active_candidates > 0:
            self._suggest()
        return reason

    def _suggest(self) -> None:
        """Suggested labels and active-queue margins for the unlabelled pairs (rm_suggestions.py). The run has
        finished and its checkpoint is saved, so a failure here is a warning, never a failed run."""
        from workbench.training.reward_models.rm_suggestions import write_suggestions

        try:
            write_suggestions(self, self.emit, self.should_stop)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            import traceback

            from workbench.training.failures import failure_message

            traceback.print_exc(file=sys.stderr)
            self.emit("log", level="warning", message="reward-model suggestions not written: "
                                                      + failure_message(exc, self.cfg, self.pos.step))

    def score_rows(self, seqs: list[list[int]]) -> Any:
        """[N, K] rewards of token sequences with the trained model (vector_rm.score_sequences)."""
        from workbench.training.reward_models.vector_rm import score_sequences

        return score_sequences(self.model, self.head, seqs, pad_id=self.tokenizer.pad_token_id,
                               batch_size=self.cfg.batch_size, autocast=self._autocast)
