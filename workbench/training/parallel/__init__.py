"""More than one GPU: torchrun's environment, DDP and FSDP training (DESIGN.md §7)."""
