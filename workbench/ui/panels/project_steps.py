"""The Project panel's step-labelled data actions (issue #17): export an objective's step labels in a step format
and run the answer checker's automatic step labels. A mixin of ProjectPanel (it uses the panel's ctx, objectives
and log), kept apart so that the panel stays one screen of code."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QInputDialog

from workbench.ui.errors import run_task, show_error

PAIRS_KIND = "Preference pairs (TRL JSONL)"


def step_format_names() -> list[str]:
    from workbench.formats.step_registry import STEP_FORMATS

    return list(STEP_FORMATS)


class StepDataActions:
    ctx: Any
    objectives: list[Any]
    log: Any

    def start_answer_check(self) -> None:
        names = [o.name for o in self.objectives]
        if not names:
            show_error(self, "Check answers", "Import step-labelled data first: the project has no objectives yet.")
            return
        name, ok = QInputDialog.getItem(self, "Check answers", "Objective of the checker's step labels:", names, 0,
                                        False)
        if ok:
            run_task(self._answer_check(name), self, "Checking answers failed")

    async def _answer_check(self, objective: str) -> None:
        from workbench.store.auto_step_labels import auto_label_steps

        r = await self.ctx.db.call(auto_label_steps, objective)
        text = (f"Checked {r.checked:,} solutions for {objective}: {r.correct:,} with the right final answer, "
                f"{r.labels_written:,} step labels written by auto:checker")
        if r.no_reference:
            text += f" ({r.no_reference:,} split responses have no reference answer)"
        self.log.addItem(text if r.checked or r.no_reference else
                         "Nothing to check: no response is split into steps yet (import step-labelled data)")
        self.ctx.notify("labels")

    def export_steps_to(self, objective: str, fmt: str, path: str) -> None:
        run_task(self._export_steps(objective, fmt, path), self, "Export failed")

    async def _export_steps(self, objective: str, fmt: str, path: str) -> int:
        from workbench.store.step_files import write_step_labels  # the CLI's rule: one place

        rows, solutions = await self.ctx.db.call(write_step_labels, objective, fmt, path)
        left = f" ({solutions - rows} with an unrated first step left out)" if solutions > rows else ""
        self.log.addItem(f"Exported {rows:,} {objective} step-labelled solutions to {path} as {fmt}{left}")
        return rows
