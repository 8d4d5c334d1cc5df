"""The details pane of a Trade-offs point: its values, mixture weights, the run's settings and sample generations
(RunConfig fields named in SETTINGS_SHOWN; samples from the evaluation's `produced_by`)."""

from __future__ import annotations

import html
import json

from workbench.services.tradeoffs import Item, Table

SETTINGS_SHOWN = ("method", "model", "losses", "beta", "learning_rate", "lora_r", "max_steps", "epochs", "objectives",
                  "weights")


def details_html(item: Item, table: Table, on_front: bool, config: dict) -> str:
    """The details pane of one point: values, weights, run settings and sample generations (if stored)."""
    esc = html.escape
    parts = [f"<h3>{esc(item.label)}</h3>", "<p><b>On the front</b></p>" if on_front else ""]
    rows = "".join(f"<tr><td>{esc(a)}</td><td>&nbsp;<b>{item.values[a]:.4g}</b></td></tr>"
                   for a in table.axes if a in item.values)
    parts.append(f"<table>{rows}</table>")
    if item.weights:
        mix = ", ".join(f"{esc(k)}: {v:.2f}" for k, v in sorted(item.weights.items()))
        parts.append(f"<p><b>Mixture weights</b>: {mix}</p>")
    if config:
        conf = "".join(f"<tr><td>{esc(k)}</td><td>&nbsp;{esc(json.dumps(config[k]))}</td></tr>"
                       for k in SETTINGS_SHOWN if k in config)
        parts.append(f"<p><b>Run settings</b></p><table>{conf}</table>")
    samples = item.produced_by.get("samples") or item.produced_by.get("generations") or []
    if samples:
        parts.append("<p><b>Sample generations</b></p>")
        for s in samples[:5]:
            if isinstance(s, dict):
                prompt, text = s.get("prompt", ""), s.get("text") or s.get("response") or s.get("completion", "")
                parts.append(f"<p><i>{esc(str(prompt))}</i><br>{esc(str(text))}</p>")
            else:
                parts.append(f"<p>{esc(str(s))}</p>")
    extra = {k: v for k, v in item.produced_by.items() if k not in ("samples", "generations")}
    if extra:
        parts.append(f"<p><b>Evaluated by</b>: {esc(json.dumps(extra)[:400])}</p>")
    return "".join(parts)
