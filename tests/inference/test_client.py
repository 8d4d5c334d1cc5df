"""The GUI's InferenceClient driving the real worker with a MAH-DPO checkpoint: the steering path of the
Trade-offs panel, end to end (QProcess, JSON lines, MixingHook in the worker)."""

from __future__ import annotations

from tests.inference.conftest import ONE_THREAD, OBJECTIVES, greedy_text, load_base, with_head
from workbench.services.inference_client import InferenceClient

PROMPT = "Please write a poem about the sea."
MAX_NEW = 12


def head_alone_text(tiny_model_dir, checkpoint, k: int) -> str:
    """Greedy text of base + merged LoRA with its output head replaced by W(I + B_k A_k): no hook involved."""
    from peft import PeftModel

    from workbench.training.preference.heads import ObjectiveHeads

    base, tokenizer = load_base(tiny_model_dir)
    merged = PeftModel.from_pretrained(base, str(checkpoint)).merge_and_unload()
    model = with_head(merged, ObjectiveHeads.load(checkpoint), k)
    return greedy_text(model, tokenizer, PROMPT, MAX_NEW)


def test_client_steers_a_mah_dpo_checkpoint_with_one_hot_weights(qtbot, monkeypatch, tiny_model_dir, mah_checkpoint):
    for key, value in ONE_THREAD.items():  # the QProcess inherits this environment
        monkeypatch.setenv(key, value)
    client = InferenceClient()
    try:
        steer_and_check(qtbot, client, tiny_model_dir, mah_checkpoint)
        with qtbot.waitSignal(client.ended, timeout=30_000) as ended:
            client.close(wait_ms=30_000)
        assert ended.args == ["stopped", ""]
    finally:
        client.close()


def steer_and_check(qtbot, client: InferenceClient, tiny_model_dir, mah_checkpoint) -> None:
    pieces: list[tuple[str, str]] = []
    client.token.connect(lambda request, text: pieces.append((request, text)))
    # the run folder (two levels up) resolves to its latest checkpoint, as people usually pick the run
    client.start({"model": str(tiny_model_dir), "adapter": str(mah_checkpoint.parents[1]), "device": "cpu"})
    expected = [head_alone_text(tiny_model_dir, mah_checkpoint, k) for k in range(len(OBJECTIVES))]  # meanwhile
    with qtbot.waitSignal(client.loaded, timeout=90_000) as loaded:
        pass  # signals are delivered by the event loop, which runs only inside this wait
    info = loaded.args[0]
    assert client.objectives == OBJECTIVES == info["objectives"]
    assert info["weights"] == {"brevity": 0.5, "detail": 0.5}  # where the steering sliders start
    assert info["adapter"] == str(mah_checkpoint)
    # tiny base + LoRA r=4 on 7 projections x 2 layers (8,704) + two rank-4 heads on H=64 (2·2·4·64 = 1,024)
    assert (info["base_parameters"], info["parameters"]) == (115008, 115008 + 8704 + 1024)

    texts = {}
    for k, objective in enumerate(OBJECTIVES):
        client.set_weights({o: float(o == objective) for o in OBJECTIVES})
        request = None
        with qtbot.waitSignal(client.result, timeout=60_000,
                              check_params_cb=lambda r, data: r == request) as done:
            request = client.generate(PROMPT, temperature=0, max_new_tokens=MAX_NEW)
        data = done.args[1]
        assert data["weights"] == {o: float(o == objective) for o in OBJECTIVES}
        assert "".join(t for r, t in pieces if r == request) == data["text"]
        texts[objective] = data["text"]
        assert data["text"] == expected[k]
    assert texts["brevity"] != texts["detail"]  # the heads really steer
