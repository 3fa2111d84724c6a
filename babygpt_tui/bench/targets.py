"""Ratios between rows of one run, and the issue's targets as PASS / MISS (n/a when a row is missing).

Targets are ratios measured in the same run on purpose: absolute tokens/s swing from run to run
on a shared machine, the ratios much less. Each is a ratio of medians.
"""

from __future__ import annotations

from typing import Any

# Issue 17's targets. (name, numerator row, denominator row, goal, "min" = value must be >= goal /
# "max" = < goal, unit). "max" rows are overheads: numerator (the faster path) / denominator - 1.
TARGETS = [
    ("fp32 decode vs HF generate fp32", "engine_float32", "hf", 1.3, "min", "x"),
    ("bf16 decode vs HF generate fp32", "engine_bfloat16", "hf", 2.3, "min", "x"),
    ("int8 decode vs HF generate fp32", "engine_int8", "hf", 3.0, "min", "x"),
    ("fp32 decode vs fp32 floor", "engine_float32", "floor_float32", 0.85, "min", "%"),
    ("sampler + events overhead (fp32, greedy)", "engine_forward_only", "engine_float32", 0.10, "max", "%"),
    ("long run vs short run", "engine_long", "engine_float32", 0.70, "min", "%"),
    ("top-10 alternatives overhead", "engine_float32", "engine_top_alternatives", 0.03, "max", "%"),
    ("fp32 from outside (generate --json) vs in-process", "outside_float32", "engine_float32", 0.90, "min", "%"),
    ("bf16 from outside (generate --json) vs in-process", "outside_bfloat16", "engine_bfloat16", 0.90, "min", "%"),
    ("int8 from outside (generate --json) vs in-process", "outside_int8", "engine_int8", 0.90, "min", "%"),
]
FASTEST_OF_FLOOR = 0.70  # the fastest dtype's decode vs that dtype's own floor
ENGINE_DTYPES = ("float32", "bfloat16", "int8")
# When two dtypes are this close, either pick for `--dtype auto` is right.
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
        "int8_vs_floor_int8": _div(r("engine_int8"), r("floor_int8")),
        "int8_vs_fp32": _div(r("engine_int8"), r("engine_float32")),
        "fp32_compiled_vs_eager": _div(r("engine_float32_compiled"), r("engine_float32")),
        "int8_compiled_vs_eager": _div(r("engine_int8_compiled"), r("engine_int8")),
        "floor_int8_vs_floor_fp32": _div(r("floor_int8"), r("floor_float32")),
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


def evaluate(
    rows: dict[str, dict[str, Any]], auto_dtype: str, quality: dict[str, Any] | None = None
) -> tuple[dict[str, float | None], list[dict[str, Any]]]:
    ratios = ratios_of(rows)
    targets = []
    for name, num, den, goal, kind, unit in TARGETS:
        if kind == "max":
            value = _overhead(_rate(rows, num), _rate(rows, den))
        else:
            value = _div(_rate(rows, num), _rate(rows, den))
        targets.append(_target(name, value, goal, kind, unit))
    targets.append(_fastest_target(rows))
    targets.append(_auto_target(rows, auto_dtype, quality))
    return ratios, targets


def _target(name: str, value: float | None, goal: float | None, kind: str, unit: str, **extra: Any) -> dict[str, Any]:
    status = _status(value, goal, kind) if goal is not None else "n/a"
    return {"name": name, "value": value, "goal": goal, "kind": kind, "unit": unit, "status": status, **extra}


def fastest_dtype(rows: dict[str, dict[str, Any]]) -> str | None:
    rates = {d: v for d in ENGINE_DTYPES if (v := _rate(rows, f"engine_{d}"))}
    return max(rates, key=lambda d: rates[d]) if rates else None


def _fastest_target(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    best = fastest_dtype(rows)
    value = _div(_rate(rows, f"engine_{best}"), _rate(rows, f"floor_{best}")) if best else None
    return _target(f"fastest dtype ({best or '-'}) vs its own floor", value, FASTEST_OF_FLOOR, "min", "%")


def _auto_target(rows: dict[str, dict[str, Any]], auto_dtype: str, quality: dict[str, Any] | None) -> dict[str, Any]:
    """`--dtype auto` must pick the fastest dtype here (within tolerance) among float32 and those
    whose nll delta on the model's own sample (quality.py) is within the bound."""
    bound = (quality or {}).get("bound_nats_per_char", 0.01)
    deltas = {k: v.get("nll_delta_own_sample") for k, v in (quality or {}).get("dtypes", {}).items()}
    allowed = [d for d in ENGINE_DTYPES if d == "float32" or (deltas.get(d) is not None and deltas[d] <= bound)]
    rates = {d: v for d in allowed if (v := _rate(rows, f"engine_{d}"))}
    picked = _rate(rows, f"engine_{auto_dtype}")
    status, value = "n/a", None
    if rates and picked:
        best = max(rates.values())
        value = picked / best
        status = "PASS" if auto_dtype in allowed and value >= 1.0 - AUTO_TOLERANCE else "MISS"
    return {
        "name": f"--dtype auto picks the fastest within {bound} nats/char ({auto_dtype})",
        "value": value,
        "goal": None,
        "kind": "auto",
        "unit": "x",
        "status": status,
        "auto_dtype": auto_dtype,
    }
