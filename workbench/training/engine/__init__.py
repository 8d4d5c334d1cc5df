"""The training engine: the trainer loop, run data and batches, log-probs, the reference pass and its caches, checkpoints, LoRA and model loading, events (DESIGN.md §5)."""
