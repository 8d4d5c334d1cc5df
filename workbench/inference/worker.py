"""`workbench worker infer`: the long-lived inference worker behind the Models and Trade-offs panels (DESIGN.md §2).

Protocol (JSON lines, workbench.core.protocol; run id "inference"; see also services/inference_client.py):

commands on stdin                                  events on stdout
load {request?, model, gguf_file, revision,        status{state:"loading", message, progress}*, then
      trust_remote_code, dtype, device, adapter,   result{request:"load", data:{model, parameters, vocab_size,
      soup_adapters{objective: folder}}              context_length, dtype, device, memory, objectives, weights, ...}}
                                                   or, when it cannot load: ended{reason:"failed", error} (exit 1)
generate {request, prompt, temperature, top_p,     token{request, text[, sample]}* then result{request, data:{text,
          top_k, max_new_tokens, seed, n}            tokens, seconds, tokens_per_s, finish, seed, weights, settings}}
                                                   (data.error instead when the request cannot run)
generate {..., guide{mode, checkpoint, ...}}       reward-guided: token{request, text, step, score}* then
                                                   result{request, data:{text, mode, steps|candidates, ...}}
                                                   (inference/guided_requests.py)
set_weights {weights{objective: w}}                result{request:"set_weights", data:{weights}} (or data.error)
cancel {request}                                   the generation stops after its current token: result finish
                                                   "cancelled" (a request still queued is answered at once)
quit / stop / stdin EOF                            ended{reason:"stopped"} (exit 0)

Details: `adapter` is a checkpoint folder or a run folder (its latest checkpoint); MAH-DPO heads next to the adapter
and soup adapters both make `objectives` non-empty, starting at equal weights. Weights follow core.weights
(finite, >= 0, not all zero; normalised to sum 1 here; a refused set answers with that rule's message). temperature 0 = greedy; a missing seed is drawn and reported. With n > 1 the samples use seeds
seed, seed+1, ...; their tokens carry `sample` and the result adds `samples`[{text, tokens, seed, finish}].
finish is "eos", "length" or "cancelled"; `text` is the decode of the new tokens, equal to the streamed pieces.

Commands run one at a time in arrival order (set_weights affects the generations after it); only cancel and quit
act immediately, from the stdin reader thread. stdout carries protocol lines only: the real stdout is moved aside
before torch is imported, so library prints land on stderr with the tracebacks.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import traceback
from typing import Any, BinaryIO, TextIO

from workbench.core.errors import WorkbenchError
from workbench.core.protocol import Message, ProtocolError, decode
from workbench.training.worker import take_stdout

RUN_ID = "inference"


class CommandReader:
    """Reads stdin on a daemon thread: cancel and quit act at once, every other command waits in `queue`."""

    def __init__(self, stream: BinaryIO | TextIO, warn: Any) -> None:
        self.queue: queue.Queue[Message | None] = queue.Queue()
        self.stopping = threading.Event()
        self._warn = warn
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._current: tuple[str, threading.Event] | None = None
        threading.Thread(target=self._read, args=(stream,), daemon=True, name="stdin-commands").start()

    def _read(self, stream: BinaryIO | TextIO) -> None:
        for line in stream:
            if not line.strip():
                continue
            try:
                msg = decode(line)
            except ProtocolError as exc:
                self._warn(f"ignored a line that is not a protocol message ({exc})")
                continue
            if msg.type == "cancel":
                self.cancel(str(msg.data.get("request", "")))
            elif msg.type in ("quit", "stop"):
                break
            else:
                self.queue.put(msg)
        self.stopping.set()
        with self._lock:
            if self._current is not None:
                self._current[1].set()
        self.queue.put(None)

    def cancel(self, request: str) -> None:
        with self._lock:
            self._cancelled.add(request)
            if self._current is not None and self._current[0] == request:
                self._current[1].set()

    def begin(self, request: str) -> threading.Event:
        """The cancel flag of the request about to run (already set if it was cancelled while queued)."""
        flag = threading.Event()
        with self._lock:
            if request in self._cancelled or self.stopping.is_set():
                flag.set()
            self._current = (request, flag)
        return flag

    def end(self, request: str) -> None:
        with self._lock:
            self._current = None
            self._cancelled.discard(request)


def error_text(exc: BaseException, doing: str) -> str:
    """One readable line for a failure: our own errors as they are, out-of-memory with what to lower, anything
    else with its type. Unexpected errors also print their traceback to stderr (the worker's log), never stdout."""
    from workbench.training.engine.failures import is_out_of_memory

    if not isinstance(exc, WorkbenchError):
        traceback.print_exc(file=sys.stderr)
    if is_out_of_memory(exc):
        return (f"Out of memory {doing}: use a smaller model, dtype bf16 or fp16, fewer new tokens or samples, "
                "or another device")
    if isinstance(exc, WorkbenchError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__} {doing}" + (f": {first}" if first else "")


class InferenceWorker:
    """Serves the commands of one GUI (or test) until quit/EOF; see the module docstring."""

    def __init__(self, sink: Any, stdin: BinaryIO | TextIO, device: str) -> None:
        from workbench.inference.session import InferenceSession

        self.sink = sink
        self.reader = CommandReader(stdin, lambda text: sink.emit("log", level="warning", message=text))
        self.session = InferenceSession(device)

    def serve(self) -> int:
        handlers = {"load": self.on_load, "generate": self.on_generate, "set_weights": self.on_set_weights}
        while (msg := self.reader.queue.get()) is not None:
            handler = handlers.get(msg.type)
            if handler is None:
                self.sink.emit("log", level="warning", message=f"the inference worker ignores {msg.type!r} commands")
                continue
            if handler(msg.data) is False:
                return 1
        self.sink.emit("ended", reason="stopped", error="")
        return 0

    def on_load(self, data: dict[str, Any]) -> bool:
        """False (the worker ends with `failed`) when the model cannot be loaded: the GUI shows the message."""
        def progress(message: str, fraction: float) -> None:
            self.sink.emit("status", state="loading", message=message, progress=round(fraction, 3))

        try:
            info = self.session.load(data, progress)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one readable line
            doing = f"loading {data.get('model') or 'the model'}"
            self.sink.emit("ended", reason="failed", error=error_text(exc, doing))
            return False
        self.sink.emit("result", request=str(data.get("request") or "load"), data=info)
        return True

    def on_generate(self, data: dict[str, Any]) -> None:
        from workbench.inference.generation import GenerationSettings

        request = str(data.get("request") or "")
        flag = self.reader.begin(request)
        try:
            settings = GenerationSettings.from_request(data)
            if flag.is_set():
                self._answer(request, {"text": "", "tokens": 0, "seconds": 0.0, "finish": "cancelled",
                                       "settings": settings.to_dict(), "weights": dict(self.session.weights)})
                return
            if data.get("guide") is not None:
                self._generate_guided(request, str(data.get("prompt") or ""), settings, data["guide"], flag)
            else:
                self._generate(request, str(data.get("prompt") or ""), settings, flag)
        except Exception as exc:  # noqa: BLE001 - a failed request must not end the worker
            self.session.free_cache()
            self._fail(request, error_text(exc, "while generating"))
        finally:
            self.reader.end(request)

    def _generate(self, request: str, prompt: str, settings: Any, flag: threading.Event) -> None:
        def on_text(sample: int, text: str) -> None:
            extra = {"sample": sample} if settings.n > 1 else {}
            self.sink.emit("token", request=request, text=text, **extra)

        samples, used = self.session.generate(prompt, settings, flag, on_text)
        first, tokens = samples[0], sum(s.tokens for s in samples)
        cut = flag.is_set() and (len(samples) < settings.n or samples[-1].finish == "cancelled")
        seconds = sum(s.seconds for s in samples)
        data: dict[str, Any] = {
            "text": first.text, "tokens": tokens, "seconds": round(seconds, 4),
            "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else 0.0,
            "finish": "cancelled" if cut else first.finish, "seed": first.seed,
            "weights": dict(self.session.weights), "settings": used.to_dict(),
        }
        if settings.n > 1:
            data["samples"] = [{"text": s.text, "tokens": s.tokens, "seed": s.seed, "finish": s.finish}
                               for s in samples]
        self._answer(request, data)

    def _generate_guided(self, request: str, prompt: str, settings: Any, guide: Any, flag: threading.Event) -> None:
        from workbench.inference.guided_requests import GuideSpec

        spec = GuideSpec.from_request(guide)

        def on_piece(text: str, extra: dict[str, Any]) -> None:
            self.sink.emit("token", request=request, text=text, **extra)

        def progress(message: str, fraction: float) -> None:
            self.sink.emit("status", state="loading", message=message, progress=fraction, request=request)

        data = self.session.generate_guided(prompt, settings, spec, flag, on_piece, progress)
        self._answer(request, {**data, "weights": data.get("weights", dict(self.session.weights))})

    def on_set_weights(self, data: dict[str, Any]) -> None:
        request = str(data.get("request") or "set_weights")
        weights = data.get("weights")
        try:
            if not isinstance(weights, dict):
                raise WorkbenchError("set_weights needs weights: {objective: weight}")
            unknown = self.session.set_weights(weights)
        except Exception as exc:  # noqa: BLE001
            self._fail(request, error_text(exc, "while setting weights"))
            return
        if unknown:
            mixes = ", ".join(self.session.weights)
            self.sink.emit("log", level="warning",
                           message=f"ignored weights of {', '.join(unknown)}: this model mixes {mixes}")
        self._answer(request, {"weights": dict(self.session.weights)})

    def _answer(self, request: str, data: dict[str, Any]) -> None:
        self.sink.emit("result", request=request, data=data)

    def _fail(self, request: str, message: str) -> None:
        self.sink.emit("log", level="error", message=message, request=request)
        self._answer(request, {"error": message, "text": ""})


def main(argv: list[str] | None = None, *, stdin: BinaryIO | TextIO | None = None) -> int:
    """Serve inference commands until quit or stdin EOF; 0 when stopped, 1 when the model could not be loaded."""
    out = take_stdout()
    parser = argparse.ArgumentParser(prog="workbench worker infer",
                                     description="the long-lived inference worker (JSON lines on stdin/stdout)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (a load may override)")
    rest = list(argv or [])
    args = parser.parse_args(rest[1:] if rest[:1] == ["--"] else rest)  # `worker infer -- --device cpu`
    from workbench.training.engine.events import EventSink

    sink = EventSink(RUN_ID, out, None)
    try:
        # raw bytes: protocol lines are UTF-8 whatever the console's encoding (cp1252 on Windows)
        return InferenceWorker(sink, stdin if stdin is not None else sys.stdin.buffer, args.device).serve()
    except KeyboardInterrupt:
        sink.emit("ended", reason="stopped", error="interrupted")
        return 130
    except BaseException as exc:  # noqa: BLE001 - every way out ends with an ended event
        sink.emit("ended", reason="failed", error=error_text(exc, "in the inference worker"))
        return 1
    finally:
        sink.close()
