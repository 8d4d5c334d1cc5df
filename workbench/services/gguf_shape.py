"""A GGUF file's model shape as a config.json-style dict, for the New Run estimate (issue #13: "config.json was not
found" for GGUF models).

Only the header is read, with a small reader of the GGUF layout (github.com/ggml-org/ggml docs/gguf.md: magic,
version, tensor count, key/value count, then typed key/values, then tensor infos): the `gguf` package's GGUFReader
decodes every field, including a 49,152-entry token list, and took 4.6 s on SmolLM2's file, too long for a dialog
that re-estimates on every edit. Keys are llama.cpp's: `<arch>.embedding_length`, `.block_count`,
`.feed_forward_length`, `.attention.head_count(_kv)`, `.vocab_size` (else the length of `tokenizer.ggml.tokens`).
An `output.weight` tensor means the output head is not tied to the embeddings. The estimate is of the dequantised
model the worker trains."""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    return fh.read(_read(fh, "<Q")).decode("utf-8", errors="replace")


def _value(fh: BinaryIO, kind: int) -> Any:
    if kind == _STRING:
        return _string(fh)
    if kind == _ARRAY:
        inner, count = _read(fh, "<I"), _read(fh, "<Q")
        if inner == _STRING:
            for _ in range(count):
                fh.seek(_read(fh, "<Q"), 1)
        else:
            fh.seek(struct.calcsize(_SCALARS[inner]) * count, 1)
        return count  # arrays: only their length is wanted (the token list's is the vocabulary size)
    return _read(fh, _SCALARS[kind])


def read_header(path: Path) -> tuple[dict[str, Any], list[str]]:
    """(key/values with arrays as their lengths, tensor names) of a GGUF file; ValueError when it is not one."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version = _read(fh, "<I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        n_tensors, n_kv = _read(fh, "<Q"), _read(fh, "<Q")
        kv = {}
        for _ in range(n_kv):
            key = _string(fh)
            kv[key] = _value(fh, _read(fh, "<I"))
        names = []
        for _ in range(n_tensors):
            names.append(_string(fh))
            fh.seek(8 * _read(fh, "<I") + 4 + 8, 1)  # dims (u64 each), type (u32), offset (u64)
        return kv, names


def gguf_config(path: str | Path) -> dict[str, Any] | None:
    """{hidden_size, num_hidden_layers, intermediate_size, num_attention_heads, num_key_value_heads, vocab_size,
    tie_word_embeddings, model_type} of a .gguf file, or None when it cannot be read or lacks the keys."""
    p = Path(path)
    try:
        st = p.stat()
        return _cached(str(p.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return None


@lru_cache(maxsize=16)
def _cached(path: str, _size: int, _mtime: int) -> dict[str, Any] | None:
    try:
        kv, tensors = read_header(Path(path))
    except (OSError, ValueError, EOFError, KeyError, struct.error):
        return None
    arch = kv.get("general.architecture")
    if not isinstance(arch, str):
        return None
    hidden, layers = kv.get(f"{arch}.embedding_length"), kv.get(f"{arch}.block_count")
    vocab = kv.get(f"{arch}.vocab_size") or kv.get("tokenizer.ggml.tokens")
    if not (hidden and layers and vocab):
        return None
    heads = kv.get(f"{arch}.attention.head_count") or 1
    return {"hidden_size": int(hidden), "num_hidden_layers": int(layers), "vocab_size": int(vocab),
            "intermediate_size": int(kv.get(f"{arch}.feed_forward_length") or 4 * hidden),
            "num_attention_heads": int(heads),
            "num_key_value_heads": int(kv.get(f"{arch}.attention.head_count_kv") or heads),
            "tie_word_embeddings": "output.weight" not in tensors, "model_type": arch}
