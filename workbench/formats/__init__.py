"""formats layer (see DESIGN.md §1)."""
