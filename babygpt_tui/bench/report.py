"""Presenting a bench result: rich tables for the terminal, Markdown for the README, JSON for tools."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..atomic import write_atomic
from ..errors import UserError
from ..output import why

STATUS_STYLE = {"PASS": "bold green", "MISS": "bold red", "n/a": "dim"}
INFO_RATIOS = [  # (ratio key, label, format)
    ("bf16_vs_fp32", "bf16 / fp32", "x"),
    ("fp32_vs_original", "fp32 / original loop", "x"),
    ("hf_vs_original", "HF / original loop", "x"),
    ("bf16_vs_floor_bf16", "bf16 / bf16 floor", "%"),
    ("int8_vs_fp32", "int8 / fp32", "x"),
    ("int8_vs_floor_int8", "int8 / int8 floor", "%"),
    ("floor_int8_vs_floor_fp32", "int8 floor / fp32 floor", "x"),
    ("fp32_compiled_vs_eager", "fp32 --compile / plain", "x"),
    ("int8_compiled_vs_eager", "int8 --compile / plain", "x"),
    ("sampler_events_overhead", "sampler + events overhead", "+%"),
    ("tui_settings_overhead", "all warpers + alternatives overhead", "+%"),
    ("prefill_fp32_vs_original", "prefill fp32 / original", "x"),
]


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value * 100:.0f} %"
    if unit == "+%":
        return f"{value * 100:+.1f} %"
    return f"{value:,.0f}"


def goal_text(t: dict[str, Any]) -> str:
    if t["kind"] == "auto":
        return "the fastest allowed (within 5 %)"
    sign = ">=" if t["kind"] == "min" else "<"
    return f"{sign} {fmt(t['goal'], t['unit'])}"


def value_text(t: dict[str, Any]) -> str:
    if t["kind"] == "auto":
        return f"{fmt(t['value'], '%')} of the fastest allowed"
    return fmt(t["value"], "+%" if t["kind"] == "max" else t["unit"])


def header_lines(doc: dict[str, Any]) -> list[str]:
    m, s = doc["machine"], doc["settings"]
    lines = [
        f"{m['cpu']} · {m['cores']} cores · {m['threads']} torch threads · device {s['device']} · "
        f"torch {m['torch']} · transformers {m['transformers'] or 'not installed'}",
        f"median of {s['reps']} repetitions (interleaved), {s['warmup_runs']} warm-up excluded"
        f"{' (--quick)' if s['quick'] else ''} · `--dtype auto` here picks {doc['auto_dtype']}"
        f" · native bf16 on this CPU: {_yes_no(m['cpu_bf16_native'])}",
    ]
    load, cores = m.get("load_average"), m.get("cores") or 1
    if load is not None and load > 0.5 * cores:
        lines.append(
            f"warning: load average {load} on {cores} cores at start: other processes share the CPU, numbers are rough"
        )
    return lines


def _yes_no(v: bool | None) -> str:
    return "unknown" if v is None else ("yes" if v else "no (emulated)")


def _model_title(res: dict[str, Any]) -> str:
    c = res["config"]
    return (
        f"{res['name']} — {res['source']}: {c['n_layer']} layers × {c['n_embd']} wide × {c['n_head']} heads, "
        f"vocab {c['vocab_size']:,}, block {c['block_size']}, {res['n_params']:,} parameters"
    )


def _row_cells(res: dict[str, Any], r: dict[str, Any]) -> list[str]:
    rows = {x["key"]: x for x in res["rows"]}
    dec = r["decode_tok_s"]
    hf = (rows.get("hf") or {}).get("decode_tok_s")
    floor = (rows.get(f"floor_{r['dtype']}") or {}).get("decode_tok_s")
    is_floor = r["key"].startswith("floor_")
    vs_hf = fmt(dec / hf, "x") if dec and hf and r["key"] != "hf" and not is_floor else ""
    of_floor = fmt(dec / floor, "%") if dec and floor and not is_floor else ""
    note = r["skipped"] or r["note"]
    return [r["label"], r["dtype"], fmt(dec, "n"), fmt(r["prefill_tok_s"], "n"), vs_hf, of_floor, note]


COLUMNS = ["measurement", "dtype", "decode tok/s", "prefill tok/s", "vs HF fp32", "of floor", "note"]


def render(doc: dict[str, Any], console: Console) -> None:
    for line in header_lines(doc):
        console.print(line, highlight=False, markup=False)
    for res in doc["models"]:
        if "skipped" in res:
            console.print(f"\n{res['name']}: {res['skipped']}", style="yellow", markup=False)
            continue
        table = Table(title=_model_title(res), title_justify="left")
        for i, col in enumerate(COLUMNS):
            table.add_column(col, justify="right" if 2 <= i <= 5 else "left")
        for r in res["rows"]:
            # Text: a note such as "pip install -e '.[bench]'" is not markup (rich would drop "[bench]")
            table.add_row(*map(Text, _row_cells(res, r)), style="dim" if r["skipped"] else None)
        console.print(table)
        t = res["tokens"]
        console.print(
            f"decode: {t['decode']} new tokens after a {t['decode_prompt']}-token prompt · prefill: "
            f"{t['prefill']}-token prompt · long run: {t['long']} new tokens",
            highlight=False,
        )
        targets = Table(title="targets (ratios of medians, same run)", title_justify="left")
        for col in ("target", "value", "goal", "result"):
            targets.add_column(col)
        for tg in res["targets"]:
            status = Text(tg["status"], STATUS_STYLE[tg["status"]])
            targets.add_row(Text(tg["name"]), Text(value_text(tg)), Text(goal_text(tg)), status)
        console.print(targets)
        info = [f"{label} {fmt(res['ratios'].get(key), unit)}" for key, label, unit in INFO_RATIOS]
        console.print("also: " + " · ".join(info), highlight=False)
        for line in quality_lines(res):
            console.print(line, highlight=False, markup=False)


def quality_lines(res: dict[str, Any]) -> list[str]:
    """What each faster dtype costs (bench/quality.py), and how `--dtype auto` chose."""
    q = res.get("quality") or {}
    lines = []
    for name, e in (q.get("dtypes") or {}).items():
        text = f"quality {name} vs float32: nll {e['nll_delta_own_sample']:+.4f} nats/char on the model's own "
        text += f"{q.get('probe_tokens')}-token sample"
        if "greedy_agreement" in e:
            first = e.get("greedy_first_difference")
            where = f"first differs at token {first}" if first is not None else "never differs"
            text += (
                f" · greedy agreement {e['greedy_agreement'] * 100:.1f} % (teacher-forced, "
                f"{e['greedy_tokens']} tokens; its own greedy reply {where})"
            )
        lines.append(text)
    for dtype, t in (res.get("compile_startup") or {}).items():
        lines.append(
            f"--compile start-up {dtype} (generate of 1 token, wall clock): plain {t['plain_s']:.1f} s, "
            f"first launch {t['first_launch_s']:.1f} s, cached launch {t['cached_launch_s']:.1f} s"
        )
    if res.get("auto_note"):
        lines.append(f"--dtype auto: {res['auto_dtype']} ({res['auto_note']})")
    return lines


def to_markdown(doc: dict[str, Any]) -> str:
    """The same tables as Markdown, for the README."""
    out = [f"_{line}_  " for line in header_lines(doc)]
    for res in doc["models"]:
        if "skipped" in res:
            out += ["", f"**{res['name']}**: {res['skipped']}"]
            continue
        out += [
            "",
            f"**{_model_title(res)}**",
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "| " + " | ".join("---:" if 2 <= i <= 5 else "---" for i in range(len(COLUMNS))) + " |",
        ]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in _row_cells(res, r)) + " |" for r in res["rows"]]
        out += ["", "| target | value | goal | result |", "| --- | --- | --- | --- |"]
        out += [f"| {t['name']} | {value_text(t)} | {goal_text(t)} | {t['status']} |" for t in res["targets"]]
        out += [""] + [f"- {line}" for line in quality_lines(res)]
    return "\n".join(out) + "\n"


def write_json(doc: dict[str, Any], dest: str) -> None:
    """`-` writes to stdout (nothing else goes there then); otherwise to the file at `dest`."""
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if dest == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        write_report(dest, text + "\n")


def write_report(dest: str, text: str) -> None:
    """Write a report file as every writer here does (through a symlink to its target, a device or
    FIFO directly, never a half-written file); a failure is one line naming the file (exit 2)."""
    try:
        write_atomic(dest, text.encode("utf-8"))
    except OSError as e:
        raise UserError(f"cannot write {dest}: {why(e)}") from None
