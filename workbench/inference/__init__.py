"""inference layer (see DESIGN.md §1)."""
