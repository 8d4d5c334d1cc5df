"""Evaluation of checkpoints and mixtures: held-out implicit rewards, generations, scorers and reward models, one trunk pass for many mixtures; the `worker eval` process."""
