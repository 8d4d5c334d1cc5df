"""The real inference worker process over the JSON-lines protocol, on the tiny model (no network, CPU)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.inference.conftest import WorkerPipe, greedy_text, load_base

PROMPT = "Tell me about the sea."


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One worker with the tiny model loaded, shared by this module's tests; (pipe, load messages)."""
    pipe = WorkerPipe(tmp_path_factory.mktemp("worker"))
    pipe.send("load", request="load", model=str(tiny_model_dir), device="cpu")
    loading = pipe.until(lambda m: m.type in ("result", "ended"))
    yield pipe, loading
    pipe.close()


def test_load_reports_model_info(served, tiny_model_dir):
    pipe, loading = served
    model, _ = load_base(tiny_model_dir)
    progress = [m.data["progress"] for m in loading if m.type == "status"]
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    result = loading[-1]
    assert result.type == "result" and result.data["request"] == "load", result
    info = result.data["data"]
    params = sum(p.numel() for p in model.parameters())
    assert info["parameters"] == params == 115008
    assert info["vocab_size"] == model.config.vocab_size == 512
    assert info["context_length"] == 512
    assert (info["dtype"], info["device"]) == ("float32", "cpu")
    assert 4 * params <= info["memory"] <= 4 * params + 1024  # fp32 weights (tied: counted once) + rotary buffer
    assert info["objectives"] == [] and info["weights"] == {} and info["chat_template"] is True


def test_generate_streams_tokens_that_add_up_to_the_result(served, tiny_model_dir):
    pipe, _ = served
    pipe.send("generate", request="g1", prompt=PROMPT, temperature=1.0, top_p=1.0, max_new_tokens=24, seed=11)
    tokens, data = pipe.request("g1")
    assert len(tokens) >= 2  # streamed piece by piece, not in one go
    assert "".join(tokens) == data["text"]
    assert data["tokens"] == 24 or data["finish"] == "eos"
    assert data["settings"] == {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 24, "seed": 11,
                                "n": 1}
    assert data["seconds"] > 0 and data["tokens_per_s"] == pytest.approx(data["tokens"] / data["seconds"], rel=0.05)


def test_greedy_matches_decoding_by_hand(served, tiny_model_dir):
    pipe, _ = served
    prompt = "What is the capital of France? Café ☕"  # UTF-8 on the pipe, whatever the console encoding
    pipe.send("generate", request="greedy", prompt=prompt, temperature=0, max_new_tokens=10)
    tokens, data = pipe.request("greedy")
    model, tokenizer = load_base(tiny_model_dir)
    assert data["text"] == "".join(tokens) == greedy_text(model, tokenizer, prompt, 10)


def test_same_seed_same_text_other_seed_other_text(served):
    pipe, _ = served
    texts = {}
    for request, seed in (("a", 5), ("b", 5), ("c", 6)):
        pipe.send("generate", request=request, prompt=PROMPT, temperature=1.0, max_new_tokens=20, seed=seed)
        texts[request] = pipe.request(request)[1]["text"]
    assert texts["a"] == texts["b"]
    assert texts["a"] != texts["c"]


def test_n_samples_use_consecutive_seeds(served):
    pipe, _ = served
    pipe.send("generate", request="n2", prompt=PROMPT, temperature=1.0, max_new_tokens=12, seed=5, n=2)
    pipe.send("generate", request="s6", prompt=PROMPT, temperature=1.0, max_new_tokens=12, seed=6)
    msgs = pipe.until(lambda m: m.type == "result" and m.data["request"] == "n2")
    _, single = pipe.request("s6")
    samples = msgs[-1].data["data"]["samples"]
    assert [s["seed"] for s in samples] == [5, 6]
    assert samples[1]["text"] == single["text"]  # sample i is exactly the request with seed + i
    for i, sample in enumerate(samples):
        streamed = [m.data["text"] for m in msgs if m.type == "token" and m.data.get("sample") == i]
        assert "".join(streamed) == sample["text"]


def test_cancel_stops_a_long_generation_and_a_queued_one(served):
    pipe, _ = served
    pipe.send("generate", request="long", prompt=PROMPT, temperature=0, max_new_tokens=400)
    pipe.send("generate", request="queued", prompt=PROMPT, temperature=0, max_new_tokens=400)
    first = pipe.until(lambda m: m.type == "token" and m.data["request"] == "long")[-1]
    pipe.send("cancel", request="queued")
    pipe.send("cancel", request="long")
    tokens, data = pipe.request("long")
    assert data["finish"] == "cancelled" and data["tokens"] < 400, data
    assert first.data["text"] + "".join(tokens) == data["text"]
    _, queued = pipe.request("queued")
    assert (queued["finish"], queued["tokens"], queued["text"]) == ("cancelled", 0, "")
    pipe.send("generate", request="after", prompt=PROMPT, temperature=0, max_new_tokens=3)
    assert pipe.request("after")[1]["tokens"] == 3  # still serving


def test_bad_requests_get_readable_errors_and_the_worker_keeps_serving(served):
    pipe, _ = served
    pipe.send("generate", request="bad", prompt=PROMPT, max_new_tokens=-1)
    msgs = pipe.until(lambda m: m.type == "result" and m.data["request"] == "bad")
    assert msgs[-1].data["data"]["error"] == "max_new_tokens must be a whole number between 1 and 1000000; got -1"
    assert any(m.type == "log" and m.data["level"] == "error" for m in msgs)
    pipe.send("generate", request="huge", prompt="Paris " * 600, max_new_tokens=4)
    _, data = pipe.request("huge")
    assert re.fullmatch(r"the prompt has \d+ tokens but the model's context holds 512; shorten the prompt",
                        data["error"]), data
    pipe.send("set_weights", weights={"brevity": 1.0})
    _, data = pipe.request("set_weights")
    assert "no objectives to mix" in data["error"]
    pipe.proc.stdin.write(b"this is not json\n")
    pipe.send("generate", request="ok", prompt=PROMPT, temperature=0, max_new_tokens=2)
    msgs = pipe.until(lambda m: m.type == "result" and m.data["request"] == "ok")
    assert any(m.type == "log" and "not a protocol message" in m.data["message"] for m in msgs)
    assert msgs[-1].data["data"]["tokens"] == 2


def test_quit_ends_stopped_with_nothing_but_protocol_on_stdout(served):
    pipe, _ = served
    pipe.send("quit")
    ended = pipe.until(lambda m: m.type == "ended")[-1]
    assert (ended.data["reason"], ended.data["error"]) == ("stopped", "")
    assert pipe.close() == 0
    assert pipe.garbage == []  # transformers' progress bars and warnings went to stderr


def test_bad_model_path_ends_failed_with_a_readable_message(tmp_path):
    pipe = WorkerPipe(tmp_path)
    pipe.send("load", request="load", model=str(tmp_path / "no-such-model"))
    ended = pipe.until(lambda m: m.type == "ended")[-1]
    assert ended.data["reason"] == "failed"
    assert ended.data["error"] == f"model path {tmp_path / 'no-such-model'} is not a model folder or a .gguf file"
    assert pipe.close() == 1
    assert pipe.garbage == []
