"""Write a Llama model folder (the tiny offline model) as a GGUF file, the way llama.cpp's converter does.

Why: `--self-test` must prove that the installed program loads GGUF files (transformers' GGUF reader needs the
`gguf` package and its own data files in the frozen build), without downloading one. The file holds float32
tensors, llama.cpp's tensor names and its q/k row order, a byte-level BPE ("gpt2") tokenizer and the chat template,
so loading it back must give the very same logits and tokens as the folder (checked by the self-test and tests/training).
"""

from __future__ import annotations

import json
from pathlib import Path

_LAYER_NAMES = {  # transformers Llama name (after model.layers.N.) -> llama.cpp name (after blk.N.)
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def llama_cpp_rows(weight, n_head: int):
    """llama.cpp's `permute` of a q/k projection: its rotary embedding pairs rows (i, i+1) where transformers pairs
    (i, i + d/2) within each head; transformers' GGUF loader undoes this."""
    rows = weight.shape[0]
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def tensor_names(layers: int, tied: bool) -> dict[str, str]:
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    if not tied:  # llama.cpp writes output.weight only when it is not the embedding matrix
        names["lm_head.weight"] = "output.weight"
    for i in range(layers):
        names.update({f"model.layers.{i}.{hf}": f"blk.{i}.{cpp}" for hf, cpp in _LAYER_NAMES.items()})
    return names


def write_gguf(model_dir: str | Path, path: str | Path) -> Path:
    """Save the Llama model + byte-level BPE tokenizer in `model_dir` as a float32 GGUF file at `path`."""
    import gguf
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir, path = Path(model_dir), Path(path)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    c = model.config
    rope = (getattr(c, "rope_parameters", None) or {}).get("rope_theta") or getattr(c, "rope_theta", 10000.0)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(model_dir.name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(c.max_position_embeddings)
    writer.add_embedding_length(c.hidden_size)
    writer.add_block_count(c.num_hidden_layers)
    writer.add_feed_forward_length(c.intermediate_size)
    writer.add_head_count(c.num_attention_heads)
    writer.add_head_count_kv(c.num_key_value_heads)
    writer.add_layer_norm_rms_eps(c.rms_norm_eps)
    writer.add_rope_freq_base(float(rope))
    writer.add_vocab_size(c.vocab_size)

    tokens = [t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    special = set(tokenizer.all_special_tokens) | set(tokenizer.added_tokens_encoder)
    merges = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_eos_token_id(tokenizer.eos_token_id)
    if tokenizer.pad_token_id is not None:
        writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(tokenizer.bos_token_id is not None)
    if tokenizer.chat_template:  # the inference worker formats prompts with it: without it the GGUF would differ
        writer.add_chat_template(tokenizer.chat_template)

    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    for hf, cpp in tensor_names(c.num_hidden_layers, bool(c.tie_word_embeddings)).items():
        weight = state[hf]
        if hf.endswith("q_proj.weight"):
            weight = llama_cpp_rows(weight, c.num_attention_heads)
        elif hf.endswith("k_proj.weight"):
            weight = llama_cpp_rows(weight, c.num_key_value_heads)
        writer.add_tensor(cpp, np.ascontiguousarray(weight))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
