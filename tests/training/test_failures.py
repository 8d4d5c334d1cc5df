"""Out-of-memory and diverging-loss failures end the run with a message that names the setting to change."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest
import torch

from tests.training.test_trainer import make_trainer
from tests.training.test_worker import REPO, _env, drain, make_run_dir
from workbench.cli.supervise import WorkerProcess
from workbench.core.run_config import RunConfig
from workbench.training.engine.failures import NonFiniteLoss, failure_message, is_out_of_memory


@pytest.mark.parametrize("exc", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                 MemoryError(),
                                 RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: "
                                              "can't allocate memory: you tried to allocate 123 bytes")])
def test_out_of_memory_message_names_the_settings(exc):
    cfg = RunConfig(batch_size=8, max_length=512)
    assert is_out_of_memory(exc)
    assert failure_message(exc, cfg, 12) == ("Out of memory at step 12: lower batch_size (now 8) or max_length "
                                             "(now 512), or turn on gradient_checkpointing")


def test_other_errors_are_one_line_with_their_type():
    msg = failure_message(ValueError("bad thing\nwith details"), RunConfig(), 3)
    assert msg == "ValueError at step 3: bad thing" and not is_out_of_memory(ValueError("x"))


def test_huge_learning_rate_fails_with_nan_advice(tiny_model_dir, tiny_run_data):
    # fp16: weights blown up by a 1e10 step overflow half precision (in fp32 the RMS norms absorb them and the
    # loss saturates at a finite value instead)
    t = make_trainer(tiny_model_dir, tiny_run_data, learning_rate=1e10, max_steps=20, max_grad_norm=0.0,
                     precision="fp16")
    t.prepare()
    with pytest.raises(NonFiniteLoss) as info:
        t.run()
    assert re.fullmatch(r"Loss became (nan|inf) at step \d+: lower learning_rate \(now 1e\+10\) or use fp32",
                        str(info.value))
    step = int(re.search(r"step (\d+)", str(info.value)).group(1))
    assert step >= 2  # step 1 starts from the zero adapter (loss ln 2); the blow-up comes from the updates


def test_injected_nan_stops_before_the_weights_are_touched(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, precision="bf16", max_steps=3)
    t.prepare()
    before = {n: p.detach().clone() for n, p in t.model.named_parameters() if p.requires_grad}
    real = t.method.loss

    def nan_loss(lp, ref, batch):
        loss, metrics = real(lp, ref, batch)
        return loss * float("nan"), {**metrics, "loss": float("nan")}

    t.method.loss = nan_loss
    with pytest.raises(NonFiniteLoss, match=r"^Loss became nan at step 1: lower learning_rate \(now 0.01\) or use fp32$"):
        t.run()
    assert all(torch.equal(p, before[n]) for n, p in t.model.named_parameters() if p.requires_grad)


def test_worker_reports_injected_oom_as_failed(tiny_model_dir, tiny_run_data, tmp_path, monkeypatch):
    """A real worker process whose step raises torch.OutOfMemoryError ends with ended(failed, advice)."""
    monkeypatch.chdir(REPO)
    run_dir = make_run_dir(tiny_model_dir, tiny_run_data, batch_size=8)
    script = tmp_path / "oom_worker.py"
    script.write_text(textwrap.dedent("""
        import sys, torch
        from workbench.training.engine import trainer
        def boom(self, batches):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        trainer.Trainer.train_step = boom
        from workbench.training.worker import main
        sys.exit(main(sys.argv[1]))
    """))
    worker = WorkerProcess([sys.executable, str(script), str(run_dir)], run_id="7", env=_env())
    msgs = drain(worker)
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "failed"
    assert msgs[-1].data["error"] == ("Out of memory at step 1: lower batch_size (now 8) or max_length (now 64), "
                                      "or turn on gradient_checkpointing")
    assert worker.proc.returncode == 1
