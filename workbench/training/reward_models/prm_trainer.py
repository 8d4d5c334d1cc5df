"""Process reward model training (`kind = "prm"`): the policy Trainer's loop, checkpoints, events and stop/resume,
with a PRM's data, loss and evaluation in place of a preference method's.

prepare(): load the base model -> LoRA (lora.py) -> a 2-class scoring head (prm_model.py) -> tokenise
run_dir/steps.jsonl (prm_data.py, TRL's tokenize_row) -> AdamW over adapter + head -> schedule (-> restore the
latest checkpoint when resuming: adapter, optimizer, scheduler, RNG and data position by checkpoint.py, the head
from its safetensors file; a resumed run continues with the same batches).
Per micro-batch: head logits at every labelled step's separator -> cross-entropy (mean over labelled steps).
Metrics: loss, steps/accuracy, steps/f1 (F1 of finding bad steps, core/prm_metrics.py) live; held-out solutions
give eval/loss, eval/steps/accuracy, eval/steps/f1 and ProcessBench's first-error localisation
eval/first_error/acc_err, acc_cor, f1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from workbench.core.errors import RunError
from workbench.core.prm_metrics import (
    f1_from_counts,
    first_error_metrics,
    label_first_error,
    predicted_first_error,
    step_counts,
    step_metrics,
)
from workbench.core.run_config import RunConfig
from workbench.training.engine.batching import batches_per_epoch
from workbench.training.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from workbench.training.reward_models.prm_data import (
    IGNORE,
    StepBatch,
    build_data,
    collate_steps,
    read_steps_file,
)
from workbench.training.reward_models.prm_model import (
    GOOD_CLASS,
    HEAD_FILE,
    load_head,
    make_head,
    prm_meta,
    save_prm_files,
    step_logits,
)
from workbench.training.engine.trainer import Emit, Trainer, seed_everything
from workbench.training.reward_models.implicit_prm import ImplicitHead, ReferenceCache

STEPS_FILE = "steps.jsonl"
IMPLICIT_BIAS_LR_SCALE = 10.0  # the implicit head's bias learns at 10x the adapter's rate (implicit_prm.py)


class PRMTrainer(Trainer):
    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, emit: Emit | None = None,
                 should_stop: Callable[[], bool] | None = None, device: torch.device | None = None) -> None:
        super().__init__(cfg, run_dir, emit=emit, should_stop=should_stop, device=device)
        self.ref = None
        self.reference: ReferenceCache | None = None  # the implicit head's pi_ref, once per solution (prepare)

    # ---- setup -------------------------------------------------------------------------------------------
    def prepare(self, *, resume: bool = False) -> None:
        cfg = self.cfg
        problems = cfg.problems()
        if problems:
            raise RunError("; ".join(problems))
        seed_everything(cfg.seed)
        self.load_lora_model(resume=resume)  # the policy trainer's: base + LoRA (fp32), dropout off, checkpointing
        self.head = make_head(self.model, cfg.seed, cfg.prm_head, cfg.prm_beta).to(self.device)
        self.reference = ReferenceCache() if isinstance(self.head, ImplicitHead) else None
        hidden = int(self.model.config.hidden_size)
        init = cfg.init_adapter and not resume and (Path(cfg.init_adapter) / HEAD_FILE).is_file()
        if init:
            start = load_head(Path(cfg.init_adapter), hidden)
            if type(start) is not type(self.head):
                raise RunError(f"{cfg.init_adapter} holds a PRM with another prm_head; choose prm_head = "
                               f"{'implicit' if isinstance(start, ImplicitHead) else 'classifier'} to continue it")
            self.head.load_state_dict(start.state_dict())
        self._tokenize()
        adapter = [p for p in self.model.parameters() if p.requires_grad]
        if isinstance(self.head, ImplicitHead):  # one scalar: at the adapter's rate it would move ~lr per step
            self.build_optimizer([{"params": adapter},
                                  {"params": [self.head.bias], "lr": IMPLICIT_BIAS_LR_SCALE * cfg.learning_rate}])
        else:
            self.build_optimizer(adapter + list(self.head.parameters()))
        if resume:
            self._restore()

    def _tokenize(self) -> None:
        cfg = self.cfg
        self._status("tokenizing", "tokenizing step-labelled solutions")
        rows = read_steps_file(self.run_dir / STEPS_FILE)
        self.data = build_data(rows, self.tokenizer, separator=cfg.step_separator,
                               separator_after_prompt=cfg.separator_after_prompt, max_length=cfg.max_length,
                               seed=cfg.seed, eval_fraction=cfg.eval_fraction)
        self.train_idx, self.eval_idx = self.data.indices("train"), self.data.indices("eval")
        if not self.train_idx:
            raise RunError("no step-labelled solutions to train on: label the steps of some responses (or lower "
                           "eval_fraction)")
        if self.data.truncated_steps:
            self.emit("log", level="warning", message=(
                f"{self.data.truncated_steps} labelled step(s) fell beyond max_length ({cfg.max_length} tokens) "
                "and are not trained on; raise max_length to keep them"))
        self.batches_per_epoch = batches_per_epoch(cfg, self.data, self.train_idx)
        per_epoch = max(1, self.batches_per_epoch // cfg.grad_accum)
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * per_epoch))

    def _restore(self) -> None:
        path = latest_checkpoint(self.run_dir)
        if path is None:
            self.emit("log", level="warning", message="no checkpoint to resume from; starting at step 0")
            return
        self.pos, _ = load_checkpoint(path, self.model, self.optimizer, self.scheduler, scaler=self.scaler)
        self.head.load_state_dict(load_head(path, int(self.model.config.hidden_size)).state_dict())
        self.emit("log", level="info", message=f"resumed from {path.name}")

    # ---- one micro-batch ---------------------------------------------------------------------------------------
    def collate_batch(self, indices: list[int]) -> StepBatch:
        return collate_steps([self.data.rows[i] for i in indices], self.tokenizer.pad_token_id, self.device,
                             indices)

    def step_outputs(self, batch: StepBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [N, 2], labels [N]) at every step position of the batch (labels IGNORE where unlabelled)."""
        with self._autocast():
            logits = step_logits(self.model, self.head, batch, self.reference)
        return logits.float(), batch.labels[batch.step_mask]

    def forward_loss(self, batch: StepBatch) -> tuple[torch.Tensor, dict[str, float]]:
        logits, labels = self.step_outputs(batch)
        keep = labels != IGNORE
        loss = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
        p_good = torch.softmax(logits[keep].detach(), -1)[:, GOOD_CLASS].cpu().numpy()
        c = step_counts(p_good, labels[keep].cpu().numpy())
        n = max(1, sum(c.values()))
        return loss, {"loss": float(loss.detach()), "steps/accuracy": (c["tp"] + c["tn"]) / n,
                      "steps/f1": f1_from_counts(c["tp"], c["fp"], c["fn"])}

    # ---- evaluation ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def scores(self, indices: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per row: (P(good) per kept step, labels per kept step), in `indices` order."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(indices), self.cfg.batch_size):
                chunk = indices[start:start + self.cfg.batch_size]
                batch = self.collate_batch(chunk)
                logits, labels = self.step_outputs(batch)
                p_good = torch.softmax(logits, -1)[:, GOOD_CLASS].cpu().numpy()
                labels_np = labels.cpu().numpy()
                at = 0
                for i in chunk:
                    n = len(self.data.rows[i].positions)
                    out.append((p_good[at:at + n], labels_np[at:at + n]))
                    at += n
        finally:
            self.model.train(was_training)
        return out

    def evaluate(self) -> dict[str, float]:
        """Held-out solutions: loss, step accuracy/F1 and first-error localisation; keys eval/..."""
        self._status("evaluating", f"evaluating {len(self.eval_idx)} held-out solutions")
        per_row = self.scores(self.eval_idx)
        p = np.concatenate([s for s, _ in per_row])
        y = np.concatenate([lab for _, lab in per_row])
        keep = y != IGNORE
        eps = 1e-12
        nll = -np.where(y[keep] == GOOD_CLASS, np.log(p[keep] + eps), np.log(1 - p[keep] + eps))
        steps = step_metrics(p[keep], y[keep])
        first = first_error_metrics([predicted_first_error(s) for s, _ in per_row],
                                    [label_first_error(list(lab)) for _, lab in per_row])
        return {"eval/loss": float(nll.mean()), "eval/steps/accuracy": steps["accuracy"],
                "eval/steps/f1": steps["f1"], "eval/first_error/acc_err": first["acc_err"],
                "eval/first_error/acc_cor": first["acc_cor"], "eval/first_error/f1": first["f1"]}

    def report_eval(self) -> None:
        """Held-out metrics as eval/... metric series (plotted beside the training curves). No eval event: a PRM
        has no per-objective reward vector for the trade-off plots."""
        self.emit("metric", step=self.pos.step, values=self.evaluate())

    # ---- checkpoints ---------------------------------------------------------------------------------------------
    def save(self) -> str:
        self._status("saving", f"saving checkpoint at step {self.pos.step}")
        meta = prm_meta(self.cfg)
        path = save_checkpoint(self.run_dir, self.model, self.optimizer, self.scheduler, self.pos,
                               scaler=self.scaler, save_files=lambda folder: save_prm_files(folder, self.head, meta))
        self.emit("checkpoint", step=self.pos.step, path=path)
        return path
