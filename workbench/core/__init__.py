"""core layer (see DESIGN.md §1)."""
