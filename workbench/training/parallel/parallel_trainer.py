"""The training loop on N processes (torchrun): workbench.training.engine.trainer.Trainer with its batch, gradient,
stop and checkpoint steps made data-parallel (workbench.training.parallel.distributed), optionally FSDP-sharded
(workbench.training.parallel.fsdp). The loop itself, the methods and the losses are the single-process ones.

Per micro-batch: every rank collates the same global micro-batch, computes log-probs of its slice, all-gathers
them and computes the method's loss on the global batch (so metrics are the global ones, identical on every
rank); per optimizer step the gradient shares are summed before clipping. Rank 0 alone emits events and writes
checkpoints and caches; a stop request (read by rank 0) is agreed by all ranks between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.parallel import distributed as dd
from workbench.training.engine.data import Batch
from workbench.training.engine.trainer import Emit, Trainer


class ParallelTrainer(Trainer):
    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, world: dd.World, emit: Emit | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        if cfg.device not in ("", "auto", "cpu") and not cfg.device.startswith("cuda"):
            raise RunError(f"multi-process training runs on CUDA GPUs or the CPU, not on {cfg.device!r}")
        if cfg.fsdp and cfg.method == "modpo" and cfg.margin_adapters:
            raise RunError("fsdp cannot load MODPO's margin adapters into a sharded model yet: use scorer margins, "
                           "or train without fsdp")
        device = dd.init(world, device=cfg.device, timeout_s=cfg.collective_timeout_s)
        local_stop = should_stop or (lambda: False)
        # FSDP on GPUs: load into CPU memory, then each layer moves to the GPU as it is sharded, so no GPU ever
        # holds the whole model (distribute_model)
        load_on = torch.device("cpu") if cfg.fsdp else device
        super().__init__(cfg, run_dir, emit=emit if world.main else None, device=load_on,
                         should_stop=lambda: dd.any_rank(local_stop(), self.device))
        self.world, self.rank_device = world, device

    # ---- hooks of Trainer -------------------------------------------------------------------------------------
    def distribute_model(self) -> None:
        if self.cfg.fsdp:
            from workbench.training.parallel.fsdp import shard_layers

            shard_layers(self.model, self.rank_device, self.world.size)
            self.device = self.rank_device

    def forward_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The method's loss over the whole global `batch`, with gradients through this rank's slice only."""
        counts = [hi - lo for lo, hi in dd.shard_bounds(batch.index.numel(), self.world.size)]
        lo, hi = dd.shard_bounds(batch.index.numel(), self.world.size)[self.world.rank]
        # FSDP: every rank runs every forward/backward (its collectives pair up), so an empty slice scores one
        # borrowed pair with zero weight.
        idle = hi == lo and self.cfg.fsdp
        local = dd.local_batch(batch, *((0, 1) if idle else (lo, hi))) if hi > lo or idle else None
        lp = None
        if local is not None:
            with self._autocast():
                lp = self.method.policy_logps(self.model, local)
        full = dd.gather_logps(None if idle else lp, counts, device=self.device, with_wpo=self.cfg.wpo)
        if self.ref is not None:
            # the lazy reference of the whole global batch, on every rank alike (the same batches in the same order,
            # so every rank's cache knows the same pairs, and FSDP's collectives pair up); bit-identical to 1 process
            self.ref.ensure(batch)
        loss, metrics = self.method.loss(full, self.ref, batch)
        if idle and lp is not None:
            loss = loss + 0.0 * lp.sum.sum()
        if torch.is_grad_enabled() and not loss.requires_grad:  # nothing of this rank in the batch
            loss = loss + torch.zeros((), device=loss.device, requires_grad=True)
        return loss, metrics

    def sync_gradients(self) -> None:
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.cfg.fsdp:  # FSDP reduces the sharded (DTensor) parameters' gradients itself
            from workbench.training.parallel.fsdp import is_sharded

            params = [p for p in params if not is_sharded(p)]
        dd.sum_gradients(params)

    def clip_gradients(self, params: list[torch.nn.Parameter], max_norm: float) -> float:
        if not self.cfg.fsdp:
            return super().clip_gradients(params, max_norm)
        from workbench.training.parallel.fsdp import clip_mixed

        return clip_mixed(params, max_norm)

    def save(self) -> str:
        if self.cfg.fsdp:
            from workbench.training.parallel.fsdp import save_full_checkpoint

            return save_full_checkpoint(self)  # a collective: every rank gathers, rank 0 writes
        path = super().save() if self.world.main else ""
        dd.barrier()  # nobody runs ahead into a state the checkpoint does not hold
        return path

    def _restore(self) -> None:
        if self.cfg.fsdp:
            raise RunError("resuming an FSDP run is not supported yet: start a new run from its last adapter, or "
                           "resume it without fsdp (the checkpoint is a full adapter)")
        super()._restore()


def make_trainer(cfg: RunConfig, run_dir: str | Path, *, world: dd.World, emit: Emit,
                 should_stop: Callable[[], bool]) -> Trainer:
    """The worker's trainer: a reward-model trainer for `kind` prm / reward_model, else the single-process
    policy trainer, or the data-parallel one under torchrun."""
    if cfg.kind != "policy":
        from workbench.training.reward_models import make_reward_trainer

        if world.size > 1:  # the config says processes 1 (RunConfig.problems); torchrun was started by hand
            raise RunError(f"{cfg.kind} runs train in one process: run it without torchrun")
        return make_reward_trainer(cfg, run_dir, emit=emit, should_stop=should_stop)
    if world.size > 1:
        return ParallelTrainer(cfg, run_dir, world=world, emit=emit, should_stop=should_stop)
    if cfg.fsdp:
        raise RunError("fsdp shards the model over several processes: set processes to 2 or more")
    return Trainer(cfg, run_dir, emit=emit, should_stop=should_stop)
