"""Load the base model + tokenizer from a local folder, a .gguf file or a hub id (DESIGN.md §5).

Safety defaults: safetensors only (pickle `.bin` weights can run code when loaded) and no repository code unless
the run config allows it. GGUF files are dequantised once by transformers' GGUF loader and saved as a
safetensors folder in the user cache, so later runs load fast and the same code path serves all sources.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.core.errors import RunError
from workbench.core.hub import hub_reachable
from workbench.core.remote_code import NOT_CONSENTED, remote_code_allowed
from workbench.core.run_config import RunConfig

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    info: dict[str, Any] = field(default_factory=dict)


def pick_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda if available, else mps, else cpu; anything else is passed to torch.device."""
    if name in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RunError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None


def gguf_cache_dir() -> Path:
    """Where converted GGUF models live (platformdirs user cache; WORKBENCH_CACHE_DIR overrides, for tests)."""
    override = os.environ.get("WORKBENCH_CACHE_DIR")
    if override:
        return Path(override) / "gguf"
    import platformdirs

    return Path(platformdirs.user_cache_dir("alignment-workbench")) / "gguf"


def convert_gguf(gguf_path: Path) -> Path:
    """Dequantise a .gguf file into a safetensors model folder once; return the folder (cached by file identity)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    st = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    out = gguf_cache_dir() / f"{gguf_path.stem}-{key}"
    if (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, OSError, KeyError, ImportError) as exc:
        raise RunError(f"could not read GGUF file {gguf_path}: {exc}".splitlines()[0]) from None
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.replace(out)
    return out


def resolve_source(cfg: RunConfig) -> tuple[str, str]:
    """(path or hub id to load with from_pretrained, source kind: folder | gguf | hub)."""
    raw = cfg.model.strip()
    if not raw:
        raise RunError("no base model chosen; set 'model' to a local folder, a hub id or a .gguf file")
    p = Path(raw).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf":
        return str(convert_gguf(p)), "gguf"
    if p.is_dir():
        if cfg.gguf_file:
            return str(convert_gguf(p / cfg.gguf_file)), "gguf"
        if not (p / "config.json").exists():
            raise RunError(f"{p} has no config.json; choose a folder saved with save_pretrained or a .gguf file")
        _check_weights(p, cfg.allow_pickle)
        return str(p), "folder"
    if p.exists() or raw.startswith((".", "/", "~")) or raw.count("/") > 1:
        raise RunError(f"model path {raw} is not a model folder or a .gguf file")
    return raw, "hub"


def _check_weights(folder: Path, allow_pickle: bool) -> None:
    if any(folder.glob("*.safetensors")) or allow_pickle:
        return
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")) or any(folder.glob("*.pth")):
        raise RunError(f"{folder} only has pickle (.bin) weights, which can run code when loaded; convert them to "
                       "safetensors or enable 'allow_pickle' if you trust this model")
    raise RunError(f"{folder} has no model weights (*.safetensors)")


def _from_pretrained(source: str, kind: str, cfg: RunConfig, dtype: torch.dtype,
                     local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    allowed = remote_code_allowed(cfg.trust_remote_code, cfg.model)  # core/remote_code.py: setting + consent
    kw: dict[str, Any] = {"trust_remote_code": allowed, "local_files_only": local_only}
    if cfg.revision and kind == "hub":
        kw["revision"] = cfg.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kw)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, use_safetensors=not cfg.allow_pickle,
                                                     **kw)
    except OSError as exc:
        if kind == "hub":
            raise RunError(f"could not download {source}: no internet connection; download it on a connected "
                           "machine or choose a local folder") from None
        raise RunError(f"could not load model from {source}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        if not allowed and ("custom code" in str(exc) or "trust_remote_code" in str(exc)):
            if cfg.trust_remote_code:
                raise RunError(f"{source} needs its own Python code to load, and {NOT_CONSENTED}") from None
            raise RunError(f"{source} needs its own Python code to load, which Workbench does not run by default; "
                           "turn on 'trust_remote_code' for this model only if you trust its authors") from None
        raise RunError(f"could not load model from {source}: {str(exc).splitlines()[0]}") from None
    return model, tokenizer


def load_model(cfg: RunConfig, *, device: torch.device | None = None, for_training: bool = True) -> LoadedModel:
    """Load base model + tokenizer onto `device` (default: pick_device(cfg.device)) with cfg.precision weights."""
    device = device or pick_device(cfg.device)
    dtype = _DTYPES.get(cfg.precision, torch.float32)
    if device.type == "cpu" and dtype == torch.float16:
        dtype = torch.float32  # fp16 matmuls are slow or unsupported on CPU; autocast still applies in training
    source, kind = resolve_source(cfg)
    local_only = kind == "hub" and not hub_reachable()
    if local_only:
        _cached_or_fail(source, cfg)
    model, tokenizer = _from_pretrained(source, kind, cfg, dtype, local_only)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.train(for_training)
    if for_training:
        model.config.use_cache = False
    info = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": int(model.config.vocab_size),
        "context_length": int(getattr(model.config, "max_position_embeddings", 0) or 0),
        "dtype": str(dtype).replace("torch.", ""),
        "device": str(device),
        "architecture": (getattr(model.config, "architectures", None) or [type(model).__name__])[0],
        "source": kind,
        "path": source,
    }
    return LoadedModel(model, tokenizer, device, dtype, info)


def _cached_or_fail(repo_id: str, cfg: RunConfig) -> None:
    """Without network a hub id works only if it is already in the local hub cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "config.json", revision=cfg.revision or None)
    except Exception:  # noqa: BLE001 - invalid repo ids etc. all mean "not cached"
        hit = None
    if not isinstance(hit, str):
        raise RunError(f"could not download {repo_id}: no internet connection; download it on a connected "
                       "machine or choose a local folder")
