"""The implicit PRM head (RunConfig.prm_head = "implicit"): a step's score read from the model's own token
probabilities instead of a classifier on its hidden state.

    P(good | prompt, steps 1..k) = sigmoid(beta * sum_t [log pi(y_t) - log pi_ref(y_t)] + b)

summed over the solution's tokens up to and including step k's separator (not the prompt's); pi is the base model
with the run's LoRA adapter, pi_ref the same model with the adapter switched off, b a learned bias (starting at 0
and learning at 10x the adapter's rate, prm_trainer.IMPLICIT_BIAS_LR_SCALE: a good step's log-ratio is bounded near
0 from above, so b carries the threshold). This is the implicit process reward of Yuan et al. 2024 ("Free Process Rewards
without Process Labels", the q-value beta * log pi/pi_ref of a prefix), trained here directly on step labels with
the same cross-entropy as the classifier head. Why offer it: a classifier head must learn, from one bit per step,
to notice an error several tokens before the separator; the log-ratio starts from the base model's own surprise at
every token (a wrong digit is unlikely under a base that knows the arithmetic) and sums it, so a wrong step keeps
every later prefix low, the "bad from the first error on" reading of step labels. README "Process reward models"
has the measured difference. Scores use the same layout, separator and checkpoint files as the classifier; the
head file holds b and prm.json holds beta.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workbench.core.errors import RunError
from workbench.training.engine.logprobs import token_logps
from workbench.training.reward_models.prm_data import StepBatch


class ImplicitHead(torch.nn.Module):
    """The implicit PRM's own parameter: the bias b (beta is fixed, from the run's config)."""

    def __init__(self, beta: float, bias: float = 0.0) -> None:
        super().__init__()
        self.beta = float(beta)
        self.bias = torch.nn.Parameter(torch.tensor(float(bias)))


def reference_logps(model: torch.nn.Module, batch: StepBatch) -> torch.Tensor:
    """[B, T-1] log pi_ref of the steps' tokens (0 elsewhere): the same model with its adapter switched off."""
    if not hasattr(model, "disable_adapter"):
        raise RunError("the implicit PRM head needs the base model with a LoRA adapter (its reference is the same "
                       "model with the adapter switched off)")
    with torch.no_grad(), model.disable_adapter():
        return token_logps(model, batch, batch.response_mask)


class ReferenceCache:
    """A training run's reference log-probs, computed once per solution: pi_ref never changes during a run (the
    base is frozen and the adapter is off for it), so from the second epoch on, and for every held-out evaluation
    after the first, the reference pass (about a quarter of a training step) is skipped. Keyed by the solution's
    row index (StepBatch.index); holds the values at the steps' tokens only."""

    def __init__(self) -> None:
        self.rows: dict[int, torch.Tensor] = {}

    def __call__(self, model: torch.nn.Module, batch: StepBatch) -> torch.Tensor:
        mask = batch.response_mask[:, 1:]
        index = [int(i) for i in batch.index.tolist()]
        if any(i not in self.rows for i in index):
            ref = reference_logps(model, batch)
            for b, i in enumerate(index):
                self.rows[i] = ref[b][mask[b]]
            return ref
        ref = torch.zeros(mask.shape, dtype=self.rows[index[0]].dtype, device=mask.device)
        for b, i in enumerate(index):
            ref[b][mask[b]] = self.rows[i]
        return ref


def implicit_step_logits(model: torch.nn.Module, head: ImplicitHead, batch: StepBatch,
                         reference: ReferenceCache | None = None) -> torch.Tensor:
    """[N, 2] logits (0, z) at the N step positions (row-major), z = beta * prefix log-ratio + b, so that
    softmax(...)[1] = sigmoid(z) and the classifier's cross-entropy and metrics apply unchanged. `reference`: a
    training run's cache of pi_ref (scoring new text computes it)."""
    ref = reference(model, batch) if reference is not None else reference_logps(model, batch)
    ratio = token_logps(model, batch, batch.response_mask) - ref
    prefix = F.pad(torch.cumsum(ratio, dim=1), (1, 0))  # prefix[:, t] = sum over tokens 1..t
    z = head.beta * prefix[batch.step_mask] + head.bias.to(prefix.dtype)
    return torch.stack([torch.zeros_like(z), z], dim=-1)
