"""FSDP for models larger than one device: torch's FSDP2 `fully_shard` on each decoder layer (frozen base weights
and their LoRA weights sharded over the ranks, gathered layer by layer in forward and backward) and on the body
(embeddings, final norm); the output head is replicated. Checkpoints are gathered into a full PEFT adapter plus
full optimizer state, written by rank 0: `PeftModel.from_pretrained` loads them in any single process.

Gradients of the sharded LoRA weights are reduce-scattered by FSDP with a divide factor of 1 (a sum), matching
distributed.sum_gradients for everything else: each rank back-propagates only its share of the global loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.distributed.tensor import DTensor

from workbench.core.errors import RunError
from workbench.training.parallel import distributed as dd
from workbench.training.engine.checkpoint import save_checkpoint

if TYPE_CHECKING:
    from workbench.training.engine.trainer import Trainer


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The transformer blocks: the ModuleList with config.num_hidden_layers entries."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    n = getattr(getattr(lm, "config", None), "num_hidden_layers", None)
    for module in lm.modules():
        if isinstance(module, torch.nn.ModuleList) and n and len(module) == n:
            return list(module)
    raise RunError("fsdp: this model's decoder layers were not found (no list of num_hidden_layers blocks); "
                   "train it without fsdp")


def shard_layers(model: torch.nn.Module, device: torch.device, world_size: int) -> None:
    """fully_shard every decoder layer, then the body (embeddings + layers + norm) as the root unit, whose
    forward is the one logprobs.hidden_states calls (the root waits for every gradient reduction at the end of
    backward). The output head stays a replicated frozen copy: logprobs applies it to completion tokens only.
    The model may sit in CPU memory: each unit moves to `device` as it is sharded."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(lm, lm.base_model_prefix, None)
    head = lm.get_output_embeddings()
    if body is None or head is None:
        raise RunError("fsdp: this model has no separate body and output head; train it without fsdp")
    if head.weight is body.get_input_embeddings().weight:  # tied: the head keeps its own (frozen) copy
        head.weight = torch.nn.Parameter(head.weight.detach().clone(), requires_grad=head.weight.requires_grad)
    mesh = init_device_mesh(device.type, (world_size,))
    for unit in [*decoder_layers(model), body]:
        fully_shard(unit, mesh=mesh)  # moves the unit's shards to `device`
        unit.set_gradient_divide_factor(1.0)  # a sum (gloo has no AVG/PREMUL_SUM; NCCL: the same)
        unit.set_force_sum_reduction_for_comms(True)
    for child in lm.children():  # the rest (the replicated output head); the units moved their own buffers
        if child is not body:
            child.to(device)


def is_sharded(p: torch.Tensor) -> bool:
    return isinstance(p, DTensor)


def clip_mixed(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """clip_grad_norm_ over sharded (DTensor) and replicated gradients together (MAH-DPO heads beside the LoRA
    weights): squares of the local shards summed over ranks, plus the replicated ones once."""
    sharded = [p.grad.to_local() for p in params if p.grad is not None and is_sharded(p)]
    plain = [p.grad for p in params if p.grad is not None and not is_sharded(p)]
    local = sum((g.float().pow(2).sum() for g in sharded), torch.zeros((), device=_grad_device(params)))
    total_sq = dd.all_reduce_sum(local) + sum((g.float().pow(2).sum() for g in plain), torch.zeros(()).to(local))
    norm = float(total_sq.sqrt())
    coef = max_norm / (norm + 1e-6)  # torch's clip_grad_norm_ formula
    if coef < 1:
        for g in sharded + plain:
            g.mul_(coef)
    return norm


def _grad_device(params: list[torch.nn.Parameter]) -> torch.device:
    p = params[0]
    return p.to_local().device if is_sharded(p) else p.device


def _full(t: Any) -> Any:
    return t.full_tensor() if isinstance(t, DTensor) else t  # a collective: every rank, same order


def full_trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """{name: full tensor} of the trainable (LoRA) parameters, gathered from their shards on every rank."""
    return {name: _full(p.detach()).cpu() for name, p in model.named_parameters() if p.requires_grad}


def full_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """optimizer.state_dict() with every sharded state tensor (AdamW's moments) gathered in full."""
    sd = optimizer.state_dict()
    state = {i: {k: (_full(v).cpu() if torch.is_tensor(v) else v) for k, v in sorted(s.items())}
             for i, s in sorted(sd["state"].items())}
    return {"state": state, "param_groups": sd["param_groups"]}


class _GatheredModel:
    """What save_checkpoint needs of the model, writing the gathered full adapter."""

    def __init__(self, model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
        self.model, self.state = model, state

    def save_pretrained(self, path: str, **kwargs: Any) -> None:
        self.model.save_pretrained(path, state_dict=self.state, **kwargs)


class _GatheredOptimizer:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def state_dict(self) -> dict[str, Any]:
        return self.state


def save_full_checkpoint(trainer: Trainer) -> str:
    """Gather the adapter and optimizer state on every rank, write the checkpoint on rank 0 (the same folder layout
    as a one-process run), then wait for it; returns its path relative to the run folder ("" on other ranks)."""
    trainer._status("saving", f"saving checkpoint at step {trainer.pos.step}")
    model_state = full_trainable_state(trainer.model)
    optim_state = full_optimizer_state(trainer.optimizer)
    path = ""
    if dd.is_main_process():
        path = save_checkpoint(trainer.run_dir, _GatheredModel(trainer.model, model_state),  # type: ignore[arg-type]
                               _GatheredOptimizer(optim_state), trainer.scheduler, trainer.pos,  # type: ignore[arg-type]
                               scaler=trainer.scaler, save_files=trainer.save_files)
        trainer.emit("checkpoint", step=trainer.pos.step, path=path)
    dd.barrier()
    return path
