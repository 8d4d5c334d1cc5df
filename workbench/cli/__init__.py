"""cli layer (see DESIGN.md §1)."""
