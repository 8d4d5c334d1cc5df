"""One module per schema revision; `db.open_project` upgrades old files through them in order."""
