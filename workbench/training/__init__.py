"""The training layer (DESIGN.md §1, §5, §7): torch + transformers + peft, run only inside worker processes.

- `engine/`: the trainer loop, run data and batches, log-probs, the reference pass and its caches, checkpoints,
  LoRA and model loading, events.
- `preference/`: the DPO-family losses (LOSSES.md) and the multi-objective methods: weighted, MAH-DPO heads,
  MODPO margins, soups; implicit-reward margins for the active queue.
- `reward_models/`: the process reward model (`kind = "prm"`: prm_model.py holds its loss) and the vector outcome
  reward model (`kind = "reward_model"`: vector_rm.py).
- `evaluation/`: checkpoints and mixtures evaluated (held-out rewards, generations, scorers); `worker eval`.
- `parallel/`: more than one GPU (torchrun, DDP, FSDP).
- `worker.py`: the `worker train` process; `tiny_model.py` / `tiny_gguf.py`: offline tiny models for tests,
  the self-test and the demo.
"""
