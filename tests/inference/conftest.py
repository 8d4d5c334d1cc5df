"""Inference fixtures: the tiny model, a MAH-DPO checkpoint (LoRA adapter + two objective heads), soup adapters,
an independent greedy decoder to compare the worker against, and a pipe to a real `workbench worker infer`."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from workbench.core.protocol import Message, ProtocolError, decode, encode
from workbench.core.run_config import RunConfig
from workbench.training.tiny_model import build_tiny_model

REPO = Path(__file__).resolve().parents[2]
OBJECTIVES = ["brevity", "detail"]
# One intra-op thread: the tiny model's matrices are too small to split, and on a busy 2-core CI box a second
# spinning thread makes generation ~5x slower (measured: 90 vs 17 tokens/s).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The same one-thread setting for the reference computations in this process (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


def load_base(model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)


def save_random_adapter(model_dir: Path, folder: Path, seed: int) -> Path:
    """A LoRA adapter whose B is far from zero, so it visibly changes what the model says."""
    from workbench.training.engine.lora import attach_lora

    base, _ = load_base(model_dir)
    peft_model = attach_lora(base, RunConfig(lora_r=4, lora_alpha=8, seed=seed))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def mah_checkpoint(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """run/checkpoints/step-3: adapter + heads for brevity and detail with strong (random) deltas."""
    from workbench.training.preference.heads import ObjectiveHeads

    folder = tmp_path_factory.mktemp("mah_run") / "checkpoints" / "step-3"
    save_random_adapter(tiny_model_dir, folder, seed=1)
    heads = ObjectiveHeads(OBJECTIVES, hidden=64, rank=4, seed=0)
    with torch.no_grad():
        heads.B.copy_(torch.randn(heads.B.shape, generator=torch.Generator().manual_seed(7)) * 3.0)
    heads.save(folder)
    return folder


@pytest.fixture(scope="session")
def soup_adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("soup")
    return {obj: str(save_random_adapter(tiny_model_dir, root / obj, seed=10 + i)) for i, obj in enumerate(OBJECTIVES)}


def greedy_text(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> str:
    """Greedy decoding by hand (full forward pass per token, argmax), independent of `generate` and the worker."""
    from workbench.inference.generation import encode_prompt

    ids = encode_prompt(tokenizer, prompt)
    new: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            nxt = int(model(torch.tensor([ids + new])).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            new.append(nxt)
    return tokenizer.decode(new, skip_special_tokens=True)


def with_head(model: Any, heads: Any, k: int) -> Any:
    """`model` whose output head is W(I + B_k A_k), a fresh untied Linear: head k alone, without MixingHook."""
    w = model.lm_head.weight.detach()
    delta = heads.B[k].detach() @ heads.A[k].detach()  # [H, H]
    head = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        head.weight.copy_(w + w @ delta)
    model.lm_head = head
    return model


class WorkerPipe:
    """A real `python -m workbench worker infer` with stdout decoded on a thread (stray lines kept in `garbage`)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.stderr_path = tmp_path / "worker-stderr.txt"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "workbench", "worker", "infer", *args], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env={**os.environ, **ONE_THREAD})
        self.messages: queue.Queue[Message | None] = queue.Queue()
        self.garbage: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.messages.put(decode(line))
            except ProtocolError:
                self.garbage.append(line)
        self.messages.put(None)

    def send(self, type_: str, **data: Any) -> None:
        self.proc.stdin.write(encode(type_, "inference", **data).encode())
        self.proc.stdin.flush()

    def until(self, done, timeout: float = 60.0) -> list[Message]:
        """Messages up to and including the first one for which done(msg) is true."""
        out: list[Message] = []
        while True:
            msg = self.messages.get(timeout=timeout)
            assert msg is not None, f"worker exited early: {out[-3:]}\n{self.stderr_path.read_text()[-2000:]}"
            out.append(msg)
            if done(msg):
                return out

    def request(self, request: str, timeout: float = 60.0) -> tuple[list[str], dict[str, Any]]:
        """(streamed token texts, result data) of one request."""
        msgs = self.until(lambda m: m.type == "result" and m.data["request"] == request, timeout)
        tokens = [m.data["text"] for m in msgs if m.type == "token" and m.data["request"] == request]
        return tokens, msgs[-1].data["data"]

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (BrokenPipeError, OSError):
                pass
        code = self.proc.wait(timeout=30)
        self._stderr.close()
        return code
