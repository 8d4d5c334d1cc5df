"""A GGUF file's model shape as a config.json-style dict, for the New Run estimate (issue #13: "config.json was not
found" for GGUF models). Reads only the file's metadata header with the `gguf` package (numpy, memory-mapped; no
torch), using llama.cpp's key names: `<arch>.embedding_length`, `.block_count`, `.feed_forward_length`,
`.attention.head_count(_kv)`, `.vocab_size` (else the tokenizer's token list). An `output.weight` tensor means the
output head is not tied to the embeddings. The estimate is of the dequantised model the worker trains (fp32/bf16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def gguf_config(path: str | Path) -> dict[str, Any] | None:
    """{hidden_size, num_hidden_layers, intermediate_size, num_attention_heads, num_key_value_heads, vocab_size,
    tie_word_embeddings} of a .gguf file, or None when it cannot be read or lacks the keys."""
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path), "r")
    except Exception:  # noqa: BLE001 - a missing package or an unreadable file: no estimate, the run says why
        return None

    def value(key: str) -> Any:
        field = reader.fields.get(key)
        if field is None or not field.data:
            return None
        if len(field.data) > 1:  # an array (the tokenizer's tokens): its length is what we need
            return len(field.data)
        part = field.parts[field.data[0]]
        return bytes(part).decode("utf-8") if part.dtype.kind == "u" and part.dtype.itemsize == 1 else part[0].item()

    arch = value("general.architecture")
    if not isinstance(arch, str):
        return None
    hidden, layers = value(f"{arch}.embedding_length"), value(f"{arch}.block_count")
    vocab = value(f"{arch}.vocab_size") or value("tokenizer.ggml.tokens")
    if not (hidden and layers and vocab):
        return None
    heads = value(f"{arch}.attention.head_count") or 1
    return {"hidden_size": int(hidden), "num_hidden_layers": int(layers), "vocab_size": int(vocab),
            "intermediate_size": int(value(f"{arch}.feed_forward_length") or 4 * hidden),
            "num_attention_heads": int(heads),
            "num_key_value_heads": int(value(f"{arch}.attention.head_count_kv") or heads),
            "tie_word_embeddings": not any(t.name == "output.weight" for t in reader.tensors),
            "model_type": arch}
