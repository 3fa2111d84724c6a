"""Ratios between rows of one run, and the issue's targets as PASS / MISS (n/a when a row is missing).

Targets are ratios measured in the same run on purpose: absolute tokens/s swing from run to run
on a shared machine, the ratios much less. Each is a ratio of medians.
"""

from __future__ import annotations

from typing import Any

# (name, numerator row, denominator row, goal, "min" = value must be >= goal / "max" = < goal, unit)
TARGETS = [
    ("fp32 decode vs HF generate fp32", "engine_float32", "hf", 1.2, "min", "x"),
    ("bf16 decode vs HF generate fp32", "engine_bfloat16", "hf", 2.3, "min", "x"),
    ("fp32 decode vs fp32 floor", "engine_float32", "floor_float32", 0.85, "min", "%"),
    ("long run vs short run", "engine_long", "engine_float32", 0.70, "min", "%"),
    ("top-10 alternatives overhead", "engine_float32", "engine_top_alternatives", 0.03, "max", "%"),
]
# When fp32 and bf16 are this close, either pick for `--dtype auto` is right.
AUTO_TOLERANCE = 0.05


def _rate(rows: dict[str, dict[str, Any]], key: str) -> float | None:
    r = rows.get(key)
    v = r.get("decode_tok_s") if r else None
    return v if v else None


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _overhead(fast: float | None, slow: float | None) -> float | None:
    """How much longer a token takes on the slower path, as a fraction (0.02 = 2 %)."""
    ratio = _div(fast, slow)
    return ratio - 1.0 if ratio is not None else None


def ratios_of(rows: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    def r(key: str) -> float | None:
        return _rate(rows, key)

    def pre(key: str) -> float | None:
        value: float | None = (rows.get(key) or {}).get("prefill_tok_s")
        return value

    return {
        "fp32_vs_hf": _div(r("engine_float32"), r("hf")),
        "bf16_vs_hf_fp32": _div(r("engine_bfloat16"), r("hf")),
        "fp32_vs_floor_fp32": _div(r("engine_float32"), r("floor_float32")),
        "bf16_vs_floor_bf16": _div(r("engine_bfloat16"), r("floor_bfloat16")),
        "long_vs_short": _div(r("engine_long"), r("engine_float32")),
        "top_alternatives_overhead": _overhead(r("engine_float32"), r("engine_top_alternatives")),
        "sampler_events_overhead": _overhead(r("engine_forward_only"), r("engine_float32")),
        "tui_settings_overhead": _overhead(r("engine_float32"), r("engine_tui_settings")),
        "bf16_vs_fp32": _div(r("engine_bfloat16"), r("engine_float32")),
        "fp32_vs_original": _div(r("engine_float32"), r("original")),
        "hf_vs_original": _div(r("hf"), r("original")),
        "prefill_fp32_vs_original": _div(pre("engine_float32"), pre("original")),
    }


def _status(value: float | None, goal: float, kind: str) -> str:
    if value is None:
        return "n/a"
    ok = value >= goal if kind == "min" else value < goal
    return "PASS" if ok else "MISS"


def evaluate(rows: dict[str, dict[str, Any]], auto_dtype: str) -> tuple[dict[str, float | None], list[dict[str, Any]]]:
    ratios = ratios_of(rows)
    targets = []
    for name, num, den, goal, kind, unit in TARGETS:
        if kind == "max":
            value = _overhead(_rate(rows, num), _rate(rows, den))
        else:
            value = _div(_rate(rows, num), _rate(rows, den))
        targets.append(
            {
                "name": name,
                "value": value,
                "goal": goal,
                "kind": kind,
                "unit": unit,
                "status": _status(value, goal, kind),
            }
        )
    targets.append(_auto_target(rows, auto_dtype))
    return ratios, targets


def _auto_target(rows: dict[str, dict[str, Any]], auto_dtype: str) -> dict[str, Any]:
    """`--dtype auto` must pick bfloat16 only where it decodes faster here (within tolerance)."""
    f32, bf16 = _rate(rows, "engine_float32"), _rate(rows, "engine_bfloat16")
    status = "n/a"
    if f32 and bf16:
        faster = "bfloat16" if bf16 > f32 else "float32"
        close = abs(bf16 / f32 - 1.0) <= AUTO_TOLERANCE
        status = "PASS" if auto_dtype == faster or close else "MISS"
    return {
        "name": f"--dtype auto picks the faster dtype ({auto_dtype})",
        "value": _div(bf16, f32),
        "goal": None,
        "kind": "auto",
        "unit": "x",
        "status": status,
        "auto_dtype": auto_dtype,
    }
