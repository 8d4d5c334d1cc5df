"""training layer (see DESIGN.md §1)."""
