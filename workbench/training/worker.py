"""The `workbench worker train` process (DESIGN.md §2): one training run, talking JSON lines.

Order matters: the real stdout is moved aside before anything else runs, so a stray print (ours, a library's,
or C code writing to fd 1) lands on stderr and can never corrupt the protocol stream.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from workbench.core.protocol import ProtocolError, decode
from workbench.core.run_config import RunConfig

if TYPE_CHECKING:  # imported lazily at run time: torch loads only after stdout is moved aside
    from workbench.training.engine.events import EventSink
    from workbench.training.engine.trainer import Trainer

_FALLBACK_STEP = 0


def take_stdout() -> TextIO:
    """Return a private stream on the real stdout and point fd 1 and sys.stdout at stderr."""
    sys.stdout.flush()
    real = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return real


def run_id_of(run_dir: Path) -> str:
    """Run folders are named `<id:04d>-<slug>` (run_prep.py): the id is the numeric prefix."""
    head = run_dir.name.split("-", 1)[0]
    return str(int(head)) if head.isdigit() else run_dir.name


class StopListener:
    """Reads commands from stdin on a daemon thread; `stop` or EOF sets the flag checked between steps."""

    def __init__(self, stream: TextIO) -> None:
        self.flag = threading.Event()
        self.garbage = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True, name="stdin-commands")
        self._thread.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            try:
                msg = decode(line)
            except ProtocolError:
                self.garbage += 1
                continue
            if msg.type == "stop":
                break
        self.flag.set()

    def __call__(self) -> bool:
        return self.flag.is_set()


def _margins(trainer: Trainer, sink: EventSink, stop: StopListener) -> None:
    """pair_margins.json for the "active" labelling order (workbench.training.preference.margins). The run has finished and
    its last checkpoint is saved, so a failure here is a warning, never a failed run."""
    from workbench.training.preference.margins import write_run_margins

    try:
        write_run_margins(trainer, sink.emit, stop)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        import traceback

        from workbench.training.engine.failures import failure_message

        traceback.print_exc(file=sys.stderr)

        message = failure_message(exc, trainer.cfg, trainer.pos.step)
        sink.emit("log", level="warning", message=f"pair margins for active labelling not written: {message}")


def main(run_dir: str | Path, *, resume: bool = False, stdin: TextIO | None = None, detached: bool = False) -> int:
    """Run one training job; always ends with an `ended` event. Exit code 0 unless the run failed. `detached`:
    no parent sends commands (a cluster job), so stdin is not read (its EOF would mean stop)."""
    out = take_stdout()
    from workbench.training.parallel import distributed
    from workbench.training.engine.events import EventSink

    run_dir = Path(run_dir)
    world = distributed.world_from_env()  # under torchrun rank 0 alone talks to the parent and writes events
    sink = EventSink(run_id_of(run_dir), out if world.main else None,
                     run_dir / "events.jsonl" if world.main else None)
    listen = world.main and not detached
    stop = StopListener(stdin if stdin is not None else sys.stdin) if listen else (lambda: False)
    trainer = None
    try:
        cfg = RunConfig.load(run_dir / "config.json")
        from workbench.training.parallel.parallel_trainer import make_trainer

        trainer = make_trainer(cfg, run_dir, world=world, emit=sink.emit, should_stop=stop)
        trainer.prepare(resume=resume)
        reason = trainer.run()
        if reason == "finished" and cfg.kind == "policy" and cfg.active_candidates > 0:
            _margins(trainer, sink, trainer.should_stop)
        sink.emit("ended", reason=reason, error="", step=trainer.pos.step)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every way out must end with an ended event
        from workbench.training.engine.failures import failure_message

        step = trainer.pos.step + 1 if trainer is not None and hasattr(trainer, "optimizer") else _FALLBACK_STEP
        cfg_for_msg = trainer.cfg if trainer is not None else RunConfig()
        if isinstance(exc, KeyboardInterrupt):
            sink.emit("ended", reason="stopped", error="interrupted", step=max(0, step - 1))
            return 130
        if world.size > 1 and distributed.is_rank_failure(exc):
            import traceback

            traceback.print_exc(file=sys.stderr)
            sink.emit("ended", reason="crashed", error=distributed.RANK_FAILURE_MESSAGE,
                      step=max(0, step - 1))
            return 1
        message = failure_message(exc, cfg_for_msg, step)
        import traceback

        traceback.print_exc(file=sys.stderr)  # the full story for the log; the parent shows `message`
        sink.emit("ended", reason="failed", error=message, step=max(0, step - 1))
        return 1
    finally:
        sink.close()
        distributed.shutdown()
