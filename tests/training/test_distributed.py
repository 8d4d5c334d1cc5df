"""Training on several processes (torchrun, gloo, CPU): the same numbers as one process, one writer, a dead rank
ends the run as crashed and resumable. The torchrun tests start 2 worker processes each (~15-30 s on 2 cores)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
import torch

from workbench.cli.supervise import WorkerProcess
from workbench.cli.train import worker_argv
from workbench.core.protocol import decode
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import Batch
from workbench.training.parallel.distributed import World, local_batch, shard_bounds, table_rows, world_from_env
from workbench.training.engine.trainer import Trainer

SETTINGS = dict(device="cpu", batch_size=4, max_steps=4, learning_rate=1e-2, max_length=64, max_prompt_length=32,
                eval_every=2, checkpoint_every=2, warmup_ratio=0.0, scheduler="constant", active_candidates=0,
                processes=2, collective_timeout_s=60.0)


def make_run_dir(model_dir: Path, data_path: Path, **overrides) -> Path:
    run_dir = data_path.parent.with_name("0009-ddp")
    data_path.parent.rename(run_dir)
    RunConfig(model=str(model_dir), **{**SETTINGS, **overrides}).save(run_dir / "config.json")
    return run_dir


def single_process(run_dir: Path, steps: int) -> tuple[list[float], list[float], Trainer]:
    """(train losses, eval losses, trainer) of the same config trained by one in-process Trainer, full batch."""
    cfg = RunConfig.load(run_dir / "config.json")
    cfg.processes, cfg.fsdp, cfg.max_steps, cfg.checkpoint_every = 1, False, steps, 0
    events: list = []
    trainer = Trainer(cfg, run_dir, emit=lambda t, **d: events.append((t, d)))
    trainer.save = lambda: ""  # type: ignore[method-assign]  # the reference writes nothing into the run folder
    trainer.prepare()
    trainer.run()
    values = [d["values"] for t, d in events if t == "metric"]
    return [v["loss"] for v in values if "loss" in v], [v["eval/loss"] for v in values if "eval/loss" in v], trainer


def drain(worker: WorkerProcess, on_message=None) -> list:
    out = []
    for batch in worker.messages():
        for msg in batch:
            out.append(msg)
            if on_message:
                on_message(msg)
    return out


def losses(msgs: list, key: str = "loss") -> list[float]:
    return [m.data["values"][key] for m in msgs if m.type == "metric" and key in m.data["values"]]


# ---- pure pieces ---------------------------------------------------------------------------------------------------
def test_shard_bounds_split_contiguously_and_evenly():
    assert shard_bounds(4, 2) == [(0, 2), (2, 4)]
    assert shard_bounds(5, 2) == [(0, 3), (3, 5)]
    assert shard_bounds(1, 3) == [(0, 1), (1, 1), (1, 1)]
    assert world_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    assert world_from_env({}) == World() and World().main
    assert table_rows([5, 3, 9]) == [5, 3, 9]  # one process scores every row


def test_local_batch_takes_both_rows_of_its_pairs_and_trims_padding():
    ids = torch.arange(4 * 6).view(4, 6)  # 2 pairs: rows 0,1 chosen, rows 2,3 rejected
    attn = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] * 5 + [0], [1] * 2 + [0] * 4])
    batch = Batch(ids, attn, attn.clone(), torch.tensor([0, 1]), torch.tensor([7, 8]))
    second = local_batch(batch, 1, 2)
    assert second.input_ids.tolist() == [ids[1, :3].tolist(), ids[3, :3].tolist()]
    assert second.objective.tolist() == [1] and second.index.tolist() == [8]


# ---- torchrun, 2 processes ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "mah_dpo"])
def test_two_processes_match_one_process_and_only_rank0_writes(tiny_model_dir, tiny_run_data, method):
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, method=method)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="9")
    msgs = drain(worker)
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "finished", msgs[-1]
    assert worker.garbage == []
    on_disk = [decode(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    # one writer: every event exactly once in the file, the same as the stream the parent read
    assert [(m.type, m.data) for m in on_disk] == [(m.type, m.data) for m in msgs]
    assert [m.data["step"] for m in msgs if m.type == "checkpoint"] == [2, 4]
    assert [m.data["step"] for m in msgs if m.type == "metric" and "loss" in m.data["values"]] == [1, 2, 3, 4]
    train, evals, _ = single_process(run_dir, 4)
    assert losses(msgs) == pytest.approx(train, abs=1e-5)
    assert losses(msgs, "eval/loss") == pytest.approx(evals, abs=1e-5)
    assert abs(train[1] - train[0]) > 1e-3  # it trained: the comparison is not of constants
    assert (run_dir / "checkpoints" / "step-4" / "adapter_model.safetensors").exists()


def _rank_process(launcher: psutil.Process, rank: str) -> psutil.Process | None:
    for child in launcher.children(recursive=True):
        try:
            if child.environ().get("RANK") == rank and "worker" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


@pytest.mark.slow
def test_killed_rank_ends_run_crashed_and_resume_continues_exactly(tiny_model_dir, tiny_run_data):
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, max_steps=6, checkpoint_every=1, eval_every=0,
                           collective_timeout_s=30.0)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="9")
    killed: list[float] = []

    def kill_rank1_after_step2(msg):
        if msg.type == "checkpoint" and msg.data["step"] == 2 and not killed:
            victim = _rank_process(psutil.Process(worker.proc.pid), "1")
            assert victim is not None, "rank 1 not found among torchrun's children"
            victim.kill()
            killed.append(time.monotonic())

    msgs = drain(worker, kill_rank1_after_step2)
    assert killed, "the run ended before rank 1 could be killed"
    assert time.monotonic() - killed[0] < 30  # ended well within the collective timeout: no hang
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "crashed", msgs[-1]
    assert "resume" in msgs[-1].data["error"] and "Traceback" not in msgs[-1].data["error"]
    done = max(m.data["step"] for m in msgs if m.type == "checkpoint")
    assert 2 <= done < 6
    resumed = drain(WorkerProcess(worker_argv(run_dir, True), run_id="9"))
    assert resumed[-1].data["reason"] == "finished", resumed[-1]
    assert [m.data["step"] for m in resumed if m.type == "metric" and "loss" in m.data["values"]] == list(
        range(done + 1, 7))
    train, _, _ = single_process(run_dir, 6)
    assert losses(resumed) == pytest.approx(train[done:], abs=1e-5)


@pytest.mark.slow
def test_fsdp_two_processes_train_and_save_an_adapter_one_process_loads(tiny_model_dir, tiny_run_data):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, fsdp=True, method="mah_dpo")
    msgs = drain(WorkerProcess(worker_argv(run_dir, False), run_id="9"))
    assert msgs[-1].data["reason"] == "finished", msgs[-1]
    train, _, trainer = single_process(run_dir, 4)
    assert losses(msgs) == pytest.approx(train, abs=1e-5)  # sharded layers + replicated heads: same numbers
    folder = run_dir / "checkpoints" / "step-4"
    assert (folder / "heads.safetensors").exists()
    loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(folder))
    mine = {n: p for n, p in loaded.named_parameters() if "lora_" in n}
    theirs = {n: p for n, p in trainer.model.named_parameters() if "lora_" in n}
    assert mine.keys() == theirs.keys() and len(mine) > 0
    assert all(p.shape == theirs[n].shape for n, p in mine.items())  # full tensors, not one rank's shard
    # the same weights up to float noise (Adam's first steps move each weight by ~lr·g/|g|, so noise in a tiny
    # gradient shows at 1e-4 of weights that moved by ~4e-2)
    assert max(float((p - theirs[n]).abs().max()) for n, p in mine.items()) < 1e-3
    assert max(float(p.abs().max()) for n, p in mine.items() if "lora_B" in n) > 0  # it trained


@pytest.mark.slow
def test_hung_rank_ends_run_crashed_after_the_collective_timeout(tiny_model_dir, tiny_run_data):
    """A rank that stops answering (SIGSTOP: a hung GPU or node) fails rank 0's next collective after
    collective_timeout_s; rank 0 reports the run crashed instead of waiting forever."""
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, max_steps=50, checkpoint_every=1, eval_every=0,
                           collective_timeout_s=5.0)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="9")
    frozen: list = []
    ended: list[float] = []

    def freeze_rank1_then_watch(msg):
        if msg.type == "checkpoint" and msg.data["step"] == 1 and not frozen:
            victim = _rank_process(psutil.Process(worker.proc.pid), "1")
            assert victim is not None
            victim.suspend()
            frozen.append((victim, time.monotonic()))
        if msg.type == "ended" and frozen and not ended:
            ended.append(time.monotonic())
            frozen[0][0].kill()  # torchrun would SIGKILL it after its own shutdown grace; no need to wait

    msgs = drain(worker, freeze_rank1_then_watch)
    assert frozen and ended, [m.type for m in msgs][-5:]
    assert 5.0 <= ended[0] - frozen[0][1] < 30.0
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "crashed", msgs[-1]
    assert 1 <= msgs[-1].data["step"] < 50
