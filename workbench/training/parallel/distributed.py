"""Data-parallel primitives for a training worker launched by torchrun (DESIGN.md §7 "Distributed").

torchrun (or Slurm's srun, or accelerate launch) starts N copies of `workbench worker train` with RANK,
WORLD_SIZE, LOCAL_RANK and MASTER_ADDR/PORT in the environment; each copy joins one torch.distributed process
group (NCCL on GPUs, gloo on CPU). Everything here is a no-op in a single process (no group initialised), so the
shared table loops (reference.pair_table) call it unconditionally.

How a step stays the single-process step (N processes with micro-batch b/N == 1 process with batch b):
- every rank builds the same global micro-batch (the order depends on (seed, epoch) only) and computes the policy
  log-probs of its own contiguous slice of it (`shard_bounds`);
- the slices are all-gathered (`gather_logps`), so every rank computes the method's loss on the whole global
  batch: per-objective means, MAH-DPO's mean over objectives, MODPO's margins all see the pairs one process would
  (a mean of per-rank losses would not equal them when objectives split unevenly over ranks);
- only the rank's own slice carries autograd, so its gradient is its share of d(loss)/dθ, and the shares are
  summed (`sum_gradients`: one all_reduce of the flattened LoRA/head gradients per optimizer step).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from collections.abc import Mapping

import torch
import torch.distributed as dist
from torch import Tensor

from workbench.training.engine.data import Batch
from workbench.training.engine.logprobs import SeqLogps


class RankLost(RuntimeError):
    """Another process of this run died or the launcher stopped this one: the run is crashed, and resumable."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The process's place in a torchrun/Slurm launch (RANK, WORLD_SIZE, LOCAL_RANK); World() when absent."""
    env = os.environ if env is None else env
    size = int(env.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    return World(int(env.get("RANK", "0")), size, int(env.get("LOCAL_RANK", "0")))


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main_process() -> bool:
    """True in a single process and on rank 0: the one process that writes events, checkpoints and caches."""
    return rank() == 0


def init(world: World, *, device: str, timeout_s: float) -> torch.device:
    """Join the process group (NCCL for CUDA, else gloo) and return this rank's device. Every collective then
    fails after `timeout_s` instead of waiting forever for a rank that hangs; one that dies closes its
    connections, which fails the collectives at once."""
    use_cuda = torch.cuda.is_available() and device in ("", "auto") or device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(world.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(seconds=timeout_s))
    _die_with_launcher()
    signal.signal(signal.SIGTERM, _on_sigterm)
    return torch.device("cuda", world.local_rank) if use_cuda else torch.device("cpu")


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise RankLost("the launcher stopped this process (another process of the run ended, or the job was "
                   "cancelled); resume the run to continue from its last checkpoint")


def _die_with_launcher() -> None:
    """Linux: get SIGTERM when the launcher (torchrun) dies, e.g. killed after a stop's grace period, so no rank
    trains on as an orphan."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def is_rank_failure(exc: BaseException) -> bool:
    """A collective that failed because a peer died, hung past the timeout, or the launcher stopped us."""
    if isinstance(exc, RankLost):
        return True
    dist_error = getattr(dist, "DistError", None)
    if dist_error is not None and isinstance(exc, dist_error):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(m in text for m in (
        "Connection closed by peer", "Connection reset by peer", "Timed out waiting", "gloo", "NCCL"))


RANK_FAILURE_MESSAGE = ("another process of this multi-process run died or stopped answering (details in the log); "
                        "resume the run to continue from its last checkpoint")


# ---- global batch -> this rank's slice -> gathered log-probs ----------------------------------------------------
def shard_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) slices of n items over `size` ranks; the first n % size ranks get one more."""
    base, extra = divmod(n, size)
    out, lo = [], 0
    for r in range(size):
        hi = lo + base + (1 if r < extra else 0)
        out.append((lo, hi))
        lo = hi
    return out


def local_batch(batch: Batch, lo: int, hi: int) -> Batch:
    """Pairs [lo, hi) of a collated [2B, T] batch (their chosen and rejected rows), trimmed to their own width."""
    b = batch.index.numel()
    rows = torch.cat([torch.arange(lo, hi), torch.arange(b + lo, b + hi)]).to(batch.input_ids.device)
    attn = batch.attention_mask[rows]
    width = int(attn.sum(dim=1).max()) if rows.numel() else 1
    return Batch(batch.input_ids[rows, :width], attn[:, :width], batch.completion_mask[rows, :width],
                 batch.objective[lo:hi], batch.index[lo:hi])


def gather_logps(local: SeqLogps | None, counts: list[int], *, device: torch.device,
                 with_wpo: bool) -> SeqLogps:
    """Global [2B] log-probs (chosen of every pair, then rejected, in global batch order) from each rank's
    [2·counts[r]] slice; this rank's slice is the autograd tensor itself, the others' are copies."""
    me, bmax = rank(), max(counts)
    fields = 3 if with_wpo else 2
    n = counts[me]
    buf = torch.zeros(fields, 2 * bmax, dtype=torch.float32, device=device)
    if local is not None and n:
        parts = [local.sum, local.count.to(torch.float32)] + ([local.wpo_logw] if with_wpo else [])
        for f, t in enumerate(parts):
            buf[f, :n] = t[:n].detach().float()
            buf[f, bmax:bmax + n] = t[n:].detach().float()
    pieces = [torch.empty_like(buf) for _ in counts]
    dist.all_gather(pieces, buf)

    def assemble(f: int, own: Tensor | None) -> Tensor:
        halves = []
        for half in (0, 1):
            for r, c in enumerate(counts):
                if r == me and own is not None and c:
                    halves.append(own[half * c:(half + 1) * c])
                else:
                    halves.append(pieces[r][f, half * bmax:half * bmax + c])
        return torch.cat(halves)

    own = local if (local is not None and n) else None
    total = assemble(0, own.sum if own is not None else None)
    count = assemble(1, None).round().long()
    wpo = assemble(2, own.wpo_logw if own is not None else None) if with_wpo else None
    return SeqLogps(total, count, wpo)


# ---- gradients, flags, tables -------------------------------------------------------------------------------------
def sum_gradients(params: list[torch.nn.Parameter]) -> None:
    """Sum the gradients of `params` over ranks with one all_reduce. A parameter no rank gave a gradient keeps
    grad None (AdamW then skips it, as the single process would)."""
    if not active() or not params:
        return
    device = params[0].device
    flat = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
    flags = torch.tensor([float(p.grad is not None) for p in params], device=device)
    buf = torch.cat(flat + [flags])
    dist.all_reduce(buf)
    offset, used = 0, buf[-len(params):]
    for p, u in zip(params, used.tolist()):
        n = p.numel()
        p.grad = buf[offset:offset + n].view_as(p).to(p.dtype).clone() if u > 0 else None
        offset += n


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on any (a stop request that only rank 0 reads from stdin)."""
    if not active():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def table_rows(order: list[int]) -> list[int]:
    """This rank's rows of a per-pair table (every rank-th row of the length-sorted `order`), padded by repeating
    its last row so every rank runs the same number of batches (FSDP's collectives need that). One process: all."""
    size = world_size()
    if size == 1:
        return order
    mine = order[rank()::size]
    want = -(-len(order) // size)
    return mine + mine[-1:] * (want - len(mine)) if mine else mine


def gather_table(out: Tensor) -> Tensor:
    """Combine per-rank tables whose rows each rank filled (others zero) into the full table on every rank."""
    if not active():
        return out
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else out.device
    t = out.to(device)
    dist.all_reduce(t)
    return t.to(out.device)


def all_reduce_sum(t: Tensor) -> Tensor:
    if active():
        t = t.clone()
        dist.all_reduce(t)
    return t


def barrier() -> None:
    if active():
        dist.barrier()
