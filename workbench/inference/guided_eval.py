"""The evaluation's answers by reward-guided decoding (RunConfig.eval_guide; training/evaluation/evaluate.py): the same
held-out prompts, each answered by PRM step search or best-of-N instead of greedy decoding, so a checkpoint's
scores can be read with and without guidance.

Sampling is seeded (prompt i uses seed cfg.seed + i), so the same checkpoint gives the same answers. The prompt
is encoded as training encodes it; the scorer reads the prompt's text. Best-of-N ranks by the guide's `weights`
(core.weights' rule), every objective alike when none are given. Scorers are loaded once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.inference.generation import GenerationSettings
from workbench.inference.guided_decoding import SearchSettings, best_of_n, step_search
from workbench.inference.guided_requests import GuideSpec, ScorerCache, ranking_weights

_SCORERS = ScorerCache()


def eval_settings(cfg: RunConfig, i: int) -> GenerationSettings:
    guide = cfg.eval_guide
    try:
        return GenerationSettings.from_request({"temperature": guide.get("temperature", 1.0),
                                                "top_p": guide.get("top_p", 1.0),
                                                "max_new_tokens": cfg.eval_max_new_tokens, "seed": cfg.seed + i})
    except RunError as exc:
        raise RunError(f"eval_guide: {exc}") from None


def generate_guided(model: Any, tokenizer: Any, prompts: Sequence[Any], cfg: RunConfig) -> Any:
    """training.evaluate.Generations of the guided answers to `prompts` (module docstring)."""
    from workbench.training.engine.data import _as_text
    from workbench.training.evaluation.evaluate import Generations, encode_prompt

    spec = GuideSpec.from_request(cfg.eval_guide)
    device = next(model.parameters()).device
    scorer = _SCORERS.get(spec.mode, spec.checkpoint, device)
    out = Generations(list(prompts), [encode_prompt(tokenizer, p) for p in prompts], [], [], [])
    for i, (prompt, ids) in enumerate(zip(out.prompts, out.prompt_ids)):
        settings = eval_settings(cfg, i)
        if spec.mode == "prm_steps":
            search = SearchSettings(k=spec.k, max_steps=spec.max_steps, max_step_tokens=spec.max_step_tokens,
                                    separator=str(getattr(scorer, "separator", "") or "\n"))
            result = step_search(model, tokenizer, ids, _as_text(prompt), scorer, settings, search)
        else:
            weights = ranking_weights(spec, list(scorer.objectives), {})
            result = best_of_n(model, tokenizer, ids, _as_text(prompt), scorer, weights, settings, spec.n)
        out.response_ids.append(list(result.ids))
        out.lengths.append(len(result.ids) - (result.finish == "eos"))
        out.texts.append(result.text)
    return out
