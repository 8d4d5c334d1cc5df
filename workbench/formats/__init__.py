"""Dataset formats (DESIGN.md §1): read files into PreferenceRecord/UnpairedRecord lists, write them back.

`FORMATS` maps a format name to its reader and writer; `detect_format` picks one from a file's first record.
No Qt, no torch, no store: the importer hands the records to `workbench.store.imports.import_records`.
"""

from __future__ import annotations

from workbench.formats.registry import FORMATS, Format, detect_format, get_format, read_dataset
from workbench.formats.trl import write_trl

__all__ = ["FORMATS", "Format", "detect_format", "get_format", "read_dataset", "write_trl"]
