"""A tiny, offline Llama model + byte-level BPE tokenizer, built in seconds.

Why: tests, the demo and `--self-test` need a real `transformers` causal LM (same code paths as SmolLM2 / Llama)
without network access or large downloads. The tokenizer is trained with the `tokenizers` library on a small
built-in English corpus and carries a simple chat template so chat-template code paths are exercised too.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
EOS = "<|endoftext|>"
SPECIAL_TOKENS = [EOS, "<|pad|>", "<|user|>", "<|assistant|>", "<|system|>"]

_CORPUS = """\
The quick brown fox jumps over the lazy dog. A short answer is often the best answer.
Explain the reason in detail, step by step, with examples and careful thought about every case.
What is the capital of France? The capital of France is Paris, a large city on the river Seine.
How do I boil an egg? Put the egg in boiling water for about eight minutes, then cool it in cold water.
Please write a poem about the sea. The sea is wide and deep and blue, it sings a song both old and new.
Thank you for your question. Here is a helpful, honest and harmless response to what you asked.
Numbers: one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9 100 2024.
Python code: def add(a, b): return a + b  # adds two numbers and returns the result.
Yes. No. Maybe. I think so. I do not know. Sure, here you go! Let me explain why that happens.
Summarise the text below in one sentence. The report says sales grew quickly during the last year.
Translate to German: good morning, thank you, please, water, bread, house, friend, tomorrow.
The model should be brief when asked to be brief, and detailed when the user wants more detail.
"""

_lock = threading.Lock()
_built: dict[tuple, Path] = {}


def _train_tokenizer(vocab_size: int, corpus: str = _CORPUS, split_digits: bool = False):
    """Train a byte-level BPE tokenizer on `corpus` (default: the built-in one) and wrap it for transformers.
    `split_digits`: every digit is its own token (arithmetic tasks; as Llama/Qwen tokenizers do)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus.splitlines() * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token="<|pad|>", bos_token=None, unk_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    out_dir: str | Path,
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    vocab_size: int = 512,
    seed: int = 0,
    tie_embeddings: bool = True,
    corpus: str | None = None,
    split_digits: bool = False,
) -> Path:
    """Save a tiny LlamaForCausalLM + tokenizer to `out_dir` (safetensors) and return the folder.

    `corpus` (text the tokenizer is trained on) and `split_digits` make a tokenizer for another domain, e.g. the
    synthetic arithmetic task (workbench.core.arith_task) with one token per digit.
    Deterministic for a given seed. Building again with the same arguments into the same folder in one process
    is a no-op (cached), so session fixtures and the demo can call it freely.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    key = (str(out.resolve()), hidden, layers, heads, vocab_size, seed, tie_embeddings, corpus, split_digits)
    with _lock:
        if key in _built and (out / "config.json").exists():
            return out
        tokenizer = _train_tokenizer(vocab_size, corpus if corpus is not None else _CORPUS, split_digits)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=512,
            tie_word_embeddings=tie_embeddings,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=None,
        )
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            model = LlamaForCausalLM(config)
        finally:
            torch.random.set_rng_state(state)
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / "workbench_tiny.json").write_text(json.dumps({"seed": seed, "hidden": hidden}), encoding="utf-8")
        _built[key] = out
        return out

