"""Scorers: functions that rate a (prompt, response) pair with a number, for evaluation axes and MODPO margins.

A scorer is called as `scorer(prompt, response, meta)` where `meta` is the prompt's metadata (the extra columns
kept at import, e.g. a GSM8K "answer"). Built-ins cover length, regex, keywords and numeric answers; users add
their own in a Python file in the project folder (RunConfig.margin_scorers names them):

    # scorers.py
    from workbench.core.scorers import scorer

    def score_politeness(prompt, response):          # picked up by its name; scorer name "politeness"
        return response.lower().count("please")

    @scorer(name="brevity", direction="minimize")     # picked up by the decorator
    def words(prompt, response, meta):
        return len(response.split())

Errors in that file (syntax, import, a scorer that raises or returns a non-number) become an InputError naming
the file and line, so the user sees "scorers.py:12: ZeroDivisionError: ..." rather than a traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.answer_check import answer_number, extract_answer, final_number
from workbench.core.entities import Direction
from workbench.core.errors import InputError, WorkbenchError

Meta = Mapping[str, Any]
_MARK = "__workbench_scorer__"
USER_PREFIX = "score_"


@dataclass(frozen=True)
class Scorer:
    """A named scoring function with the direction in which its score is better (for Pareto plots)."""

    name: str
    fn: Callable[[str, str, Meta], Any] = field(repr=False)
    direction: Direction = "maximize"
    description: str = ""
    source: str = ""  # the user's file ("" for built-ins), for error messages
    line: int = 0  # where the function is defined in `source`

    def __call__(self, prompt: str, response: str, meta: Meta | None = None) -> float:
        try:
            result = self.fn(prompt, response, meta if meta is not None else {})
        except WorkbenchError:
            raise
        except Exception as exc:
            if not self.source:
                raise
            raise InputError(f"scorer '{self.name}' failed: {type(exc).__name__}: {exc}", path=self.source,
                             line=_line_in(exc, self.source) or self.line) from exc
        if isinstance(result, (bool, np.bool_)) or isinstance(result, Real):
            return float(result)
        raise InputError(f"scorer '{self.name}' returned {result!r} ({type(result).__name__}); return a number",
                         path=self.source, line=self.line)


def score_all(scorer: Scorer, items: Iterable[tuple[str, str, Meta | None]]) -> np.ndarray:
    """Scores of many (prompt, response, meta) triples as a float array."""
    return np.array([scorer(p, r, m) for p, r, m in items], dtype=float)


# --- built-ins -----------------------------------------------------------------------------------------------


def _count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens in `text` by a tokenizer-like object: a HF tokenizer (`encode`), a `tokenizers.Tokenizer` (whose
    encode returns an Encoding with `.ids`), or any callable returning a sequence."""
    encode = getattr(tokenizer, "encode", None)
    if callable(encode):
        try:
            ids = encode(text, add_special_tokens=False)
        except TypeError:
            ids = encode(text)
    else:
        ids = tokenizer(text)
    ids = getattr(ids, "ids", ids)
    if isinstance(ids, Mapping) and "input_ids" in ids:
        ids = ids["input_ids"]
    return len(ids)


def length_tokens(tokenizer: Any = None) -> Scorer:
    """Response length in tokens: whitespace-separated words unless a tokenizer-like object is given.
    Direction "minimize": the usual use is a brevity axis against verbosity bias (Singhal et al., "A Long Way to
    Go: Investigating Length Correlations in RLHF", 2023)."""

    def fn(prompt: str, response: str, meta: Meta) -> int:
        return len(response.split()) if tokenizer is None else _count_tokens(tokenizer, response)

    return Scorer("length_tokens", fn, "minimize", "response length in tokens")


def regex_match(pattern: str, *, flags: int = 0, name: str = "regex_match") -> Scorer:
    """1.0 when `pattern` is found anywhere in the response (re.search), else 0.0."""
    compiled = re.compile(pattern, flags)

    def fn(prompt: str, response: str, meta: Meta) -> bool:
        return compiled.search(response) is not None

    return Scorer(name, fn, "maximize", f"response matches /{pattern}/")


def keyword_count(words: Iterable[str], *, case_sensitive: bool = False, name: str = "keyword_count") -> Scorer:
    """How many times any of `words` occurs in the response as a whole word (or whole phrase)."""
    words = [w for w in words if w]
    if not words:
        raise ValueError("keyword_count needs at least one word")
    # Longest first, so that "New York" wins over "New" at the same position.
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    compiled = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", 0 if case_sensitive else re.IGNORECASE)

    def fn(prompt: str, response: str, meta: Meta) -> int:
        return len(compiled.findall(response))

    return Scorer(name, fn, "maximize", f"occurrences of {', '.join(words)}")


def numeric_answer_match(key: str = "answer") -> Scorer:
    """1.0 when the response's final answer (core.answer_check: \\boxed{}, "The answer is", "####", else the last
    number) equals the expected answer `meta[key]` exactly as a number, else 0.0."""

    def fn(prompt: str, response: str, meta: Meta) -> bool:
        if key not in meta or meta[key] is None:
            raise InputError(f"numeric_answer_match needs the expected answer in the prompt's metadata "
                             f"under '{key}'; import a dataset with an '{key}' column")
        expected = meta[key]
        want = Fraction(repr(expected)) if isinstance(expected, float) else final_number(str(expected))
        if want is None:
            raise InputError(f"the expected answer {expected!r} contains no number")
        answer = extract_answer(response)
        return answer is not None and answer_number(answer) == want

    return Scorer("numeric_answer_match", fn, "maximize", f"final answer equals metadata '{key}'")


# --- registry --------------------------------------------------------------------------------------------------


class ScorerRegistry:
    """Scorers by name: the built-ins plus those of the project's scorers file."""

    def __init__(self, scorers: Iterable[Scorer] = ()) -> None:
        self._by_name: dict[str, Scorer] = {}
        for s in scorers:
            self.register(s)

    def register(self, scorer: Scorer) -> Scorer:
        taken = self._by_name.get(scorer.name)
        if taken is not None:
            where = f"{taken.source}:{taken.line}" if taken.source else "a built-in scorer"
            raise InputError(f"scorer name '{scorer.name}' is already used by {where}; rename one of them",
                             path=scorer.source, line=scorer.line)
        self._by_name[scorer.name] = scorer
        return scorer

    def get(self, name: str) -> Scorer:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise WorkbenchError(f"no scorer named '{name}' (known: {known}); check the name or the scorers "
                                 "file") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)


def builtin_scorers() -> list[Scorer]:
    """The built-ins usable by name (regex_match and keyword_count need arguments: use them in a scorers file)."""
    return [length_tokens(), numeric_answer_match()]


def scorer_registry(user_file: str | Path | None = None) -> ScorerRegistry:
    """Built-ins plus the scorers of `user_file` when it is given and exists."""
    registry = ScorerRegistry(builtin_scorers())
    if user_file is not None and Path(user_file).is_file():
        for s in load_user_scorers(user_file):
            registry.register(s)
    return registry


# --- user scorers ----------------------------------------------------------------------------------------------


def scorer(fn: Callable[..., Any] | None = None, *, name: str | None = None, direction: Direction = "maximize",
           description: str = "") -> Any:
    """Mark a function in a scorers file as a scorer: `@scorer` or `@scorer(name=..., direction="minimize")`.
    The function itself is returned unchanged, so it can still be called and tested directly."""
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', not {direction!r}")

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        setattr(f, _MARK, {"name": name, "direction": direction, "description": description})
        return f

    return mark(fn) if fn is not None else mark


def _line_in(exc: BaseException, path: str) -> int:
    """Line of the innermost traceback frame that lies in `path` (0 when none does)."""
    target = str(Path(path).resolve())
    lines = [f.lineno or 0 for f in traceback.extract_tb(exc.__traceback__)
             if str(Path(f.filename).resolve()) == target]
    return lines[-1] if lines else 0


def _import_file(path: Path) -> Any:
    """Execute the file as a fresh module (re-importing after the user edits it gives the new code)."""
    module_name = "workbench_user_scorers_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError("cannot load this file as Python; give a .py file", path=str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here while the file runs
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise InputError(f"syntax error: {exc.msg}; fix the file and load it again", path=str(path),
                         line=exc.lineno or 0) from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise InputError(f"{type(exc).__name__}: {exc} (while loading the file); fix it and load it again",
                         path=str(path), line=_line_in(exc, str(path))) from exc
    return module


def _as_three_arguments(fn: Callable[..., Any], path: str, line: int) -> Callable[[str, str, Meta], Any]:
    """Accept user functions of (prompt, response) or (prompt, response, meta)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or (len(positional) >= 3 and len(required) <= 3):
        return fn
    if len(positional) >= 2 and len(required) <= 2:
        return lambda prompt, response, meta: fn(prompt, response)
    raise InputError(f"scorer '{fn.__name__}' must take (prompt, response) or (prompt, response, meta)",
                     path=path, line=line)


def load_user_scorers(path: str | Path) -> list[Scorer]:
    """Scorers defined in a user's Python file: functions named `score_*` (scorer name = the rest of the name) or
    marked with `@scorer`, and Scorer objects bound to `score_*` names (e.g. `score_cites = regex_match(...)`).
    Functions the file merely imports are ignored."""
    p = Path(path).resolve()
    if not p.is_file():
        raise InputError("scorers file not found; check the path", path=str(path))
    module = _import_file(p)
    found: list[Scorer] = []
    for attr, obj in vars(module).items():
        if isinstance(obj, Scorer) and attr.startswith(USER_PREFIX):
            found.append(Scorer(attr[len(USER_PREFIX):], obj.fn, obj.direction, obj.description, str(p)))
            continue
        if not inspect.isfunction(obj) or obj.__module__ != module.__name__:
            continue
        mark = getattr(obj, _MARK, None)
        if mark is None and not attr.startswith(USER_PREFIX):
            continue
        mark = mark or {}
        line = obj.__code__.co_firstlineno
        found.append(Scorer(mark.get("name") or attr.removeprefix(USER_PREFIX), _as_three_arguments(obj, str(p), line),
                            mark.get("direction", "maximize"), mark.get("description") or (obj.__doc__ or "").strip(),
                            str(p), line))
    if not found:
        raise InputError("no scorers found: name functions score_<name>(prompt, response) or decorate them with "
                         "@scorer", path=str(p))
    return found
