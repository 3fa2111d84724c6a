"""Per-token data of a reply, typed: one `TokenRecord` per generated token, and the one converter
between records and their compact columnar form, used on the engine's wire and in session files.
Torch-, textual- and babygpt_tui-free, so the engine, the UI and the session format can all use it.

A reply's character `i` is token `i` (the tokenizer is character-level), so a turn's records line
up with its reply; the text of the chosen token is the reply's character, not stored again.

Columnar form (a JSON object; the arrays are little-endian and base64-encoded):

    n          how many records were written
    id         uint16 (uint32 when `wide`) per token: the chosen token's id
    p, w       uint16 per token: its probability under the raw model / after the warpers
    k          uint8 per token: how many alternatives it has
    alt_id     uint16/uint32 per alternative (sum of k): raw top first, most likely first, then
               tokens only in the warped top (the repetition penalty can lift one there)
    alt_p      uint16 per alternative: raw probability (NONE: not in the raw top)
    alt_w      uint16 per alternative: warped probability (CUT: removed by the warpers; NONE: not known)
    text_id    uint16/uint32, text_len uint16, text: the text of every id above, concatenated
    forced     indices of tokens forced by a branch (not sampled)
    wide       true when an id is above 65,535
    win        uint16 per token, optional: how many characters the model saw for it (its context
               window after any cache shift, so `explain` can redo that forward); 0, or no column
               (files and engines from before it), means unknown: the default window is assumed

Probabilities are log-quantized: code = round(-ln(p) * 2048), so 0 is p = 1 and the relative
error is below 0.025 % down to p ≈ 1e-14 (4 significant digits, at 2 bytes instead of ~7 of JSON).
About 90 bytes per token with ten alternatives, against ~250 for the positional lists of schema 1.

`decode` checks everything and never raises on bad input: it keeps the records up to the first one
that does not hold together, and says how many it dropped.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

SCALE = 2048.0  # quantization steps per nat
NONE, CUT, TINY = 0xFFFF, 0xFFFE, 0xFFFD  # not known · cut (p = 0) · below the range
MAX_ALTERNATIVES = 255


@dataclass(frozen=True, slots=True)
class TokenAlt:
    """One alternative at a step: its raw and warped probability (None: not known)."""

    text: str
    id: int
    raw: float | None  # None: not among the raw top alternatives
    warped: float | None  # 0.0: cut by the warpers; None: outside the warped top

    @property
    def cut(self) -> bool:
        return self.warped == 0.0


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the model did at one step: the chosen token, its probabilities, the alternatives."""

    id: int
    prob: float  # under the raw model distribution
    warped: float  # in the distribution it was drawn from (after the warpers)
    alt_ids: tuple[int, ...] = ()
    alt_texts: tuple[str, ...] = ()
    alt_raw: tuple[float | None, ...] = ()
    alt_warped: tuple[float | None, ...] = ()
    forced: bool = False  # forced by a branch, not sampled
    window: int = 0  # characters the model saw for this token (the KV cache's length); 0: unknown

    @property
    def rank(self) -> int:
        """1-based rank among the raw top alternatives; 0 if it is not among them."""
        for i, (token, raw) in enumerate(zip(self.alt_ids, self.alt_raw, strict=True)):
            if raw is None:
                break
            if token == self.id:
                return i + 1
        return 0

    @property
    def alternatives(self) -> tuple[TokenAlt, ...]:
        return tuple(map(TokenAlt, self.alt_texts, self.alt_ids, self.alt_raw, self.alt_warped))


def quantize(p: float | None) -> int:
    code = _codes.get(p)  # a value read back (`rounded`, a decoded record): its code, without a log
    if code is not None:
        return code
    if p is None or p != p:  # None or NaN
        return NONE
    if p <= 0.0:
        return CUT
    if p >= 1.0:
        return 0
    return min(int(-math.log(p) * SCALE + 0.5), TINY)


def quantize_all(values: list[float | None]) -> list[int]:
    """`quantize` of each value; values read back (a record's, mostly) are looked up at C speed."""
    codes = list(map(_codes.get, values))
    if None in codes:  # some were never read back: quantize those
        return [quantize(p) if c is None else c for c, p in zip(codes, values, strict=True)]
    return codes  # type: ignore[return-value]  # no None left: every code is an int


_values: dict[int, float | None] = {NONE: None, CUT: 0.0}  # one float object per code seen
_codes: dict[float | None, int] = {None: NONE, 0.0: CUT}  # and back: quantize(dequantize(c)) == c


def dequantize(code: int) -> float | None:
    value = _values.get(code, -1.0)
    if value == -1.0:
        value = _values[code] = math.exp(-code / SCALE)
        _codes.setdefault(value, code)
    return value


def dequantize_all(codes: list[int]) -> list[float | None]:
    """`dequantize` of each code; codes seen before are looked up at C speed."""
    values = list(map(_values.get, codes))
    if None in values:  # codes never seen (or NONE, whose value is None): dequantize those
        return [dequantize(c) if v is None else v for c, v in zip(codes, values, strict=True)]
    return values


def rounded(p: float | None) -> float | None:
    """`p` as it reads back from the columnar form (what a UI shows is what a file keeps)."""
    return dequantize(quantize(p))


def _pack(typecode: str, values: Sequence[int]) -> str:
    data = array(typecode, values)
    if sys.byteorder == "big":
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def _unpack(typecode: str, text: Any) -> array[int]:
    """The array in `text`; ValueError if it is not one."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None
    data = array(typecode)
    if len(raw) % data.itemsize:
        raise ValueError("a partial item")
    data.frombytes(raw)
    if sys.byteorder == "big":
        data.byteswap()
    return data


class Columns(Sequence[TokenRecord]):
    """Records already in their columnar form: the engine assembles a batch's straight from its
    tensors (`assemble`), so the wire carries them without a TokenRecord, or a Python float, per
    alternative; read as a sequence, they are decoded (once)."""

    __slots__ = ("data", "_records")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self._records: list[TokenRecord] | None = None

    def _decoded(self) -> list[TokenRecord]:
        if self._records is None:
            self._records = decode(self.data).records
        return self._records

    def __len__(self) -> int:
        return int(self.data["n"])

    @overload
    def __getitem__(self, i: int) -> TokenRecord: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[TokenRecord]: ...
    def __getitem__(self, i: int | slice) -> TokenRecord | Sequence[TokenRecord]:
        return self._decoded()[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by value


def assemble(
    ids: Sequence[int],
    probs: Sequence[int],
    warped: Sequence[int],
    k: int,
    alt_ids: bytes,
    alt_p: bytes,
    alt_w: bytes,
    texts: dict[int, str],
    forced: list[int],
    windows: Sequence[int],
) -> Columns:
    """The columnar form of len(ids) records with `k` alternatives each, as `encode` writes it:
    the chosen tokens' probabilities as codes (`quantize`), the alternatives' columns already
    packed (uint16, little-endian: the engine's tensors' bytes), `texts` every alternative's."""
    n = len(ids)
    out: dict[str, Any] = {
        "n": n,
        "id": _pack("H", ids),
        "p": _pack("H", probs),
        "w": _pack("H", warped),
        "k": _pack("B", [k] * n),
        "alt_id": base64.b64encode(alt_ids).decode("ascii"),
        "alt_p": base64.b64encode(alt_p).decode("ascii"),
        "alt_w": base64.b64encode(alt_w).decode("ascii"),
        "text_id": _pack("H", list(texts)),
        "text_len": _pack("H", [len(t) for t in texts.values()]),
        "text": "".join(texts.values()),
        "forced": forced,
    }
    if any(windows):
        out["win"] = _pack("H", [w if 0 < w <= 0xFFFF else 0 for w in windows])
    return Columns(out)


def encode(records: Sequence[TokenRecord]) -> dict[str, Any]:
    """The columnar form of `records` (JSON-ready)."""
    if isinstance(records, Columns):
        return records.data
    top = MAX_ALTERNATIVES
    ids = [r.id for r in records]
    alt_ids = [i for r in records for i in r.alt_ids[:top]]
    wide = any(i > 0xFFFF for i in ids) or any(i > 0xFFFF for i in alt_ids)
    id_code = "I" if wide else "H"
    texts: dict[int, str] = {}
    for r in records:
        texts.update(zip(r.alt_ids[:top], r.alt_texts[:top], strict=True))
    out: dict[str, Any] = {
        "n": len(records),
        "id": _pack(id_code, ids),
        "p": _pack("H", quantize_all([r.prob for r in records])),
        "w": _pack("H", quantize_all([r.warped for r in records])),
        "k": _pack("B", [min(len(r.alt_ids), top) for r in records]),
        "alt_id": _pack(id_code, alt_ids),
        "alt_p": _pack("H", quantize_all([p for r in records for p in r.alt_raw[:top]])),
        "alt_w": _pack("H", quantize_all([p for r in records for p in r.alt_warped[:top]])),
        "text_id": _pack(id_code, list(texts)),
        "text_len": _pack("H", [len(t) for t in texts.values()]),
        "text": "".join(texts.values()),
        "forced": [i for i, r in enumerate(records) if r.forced],
    }
    if wide:
        out["wide"] = True
    if any(r.window for r in records):  # only then: records without windows encode as before
        out["win"] = _pack("H", [r.window if 0 < r.window <= 0xFFFF else 0 for r in records])
    return out


def _texts(ids: array[int], lengths: array[int], text: Any) -> dict[int, str]:
    if not isinstance(text, str) or len(ids) != len(lengths) or sum(lengths) != len(text):
        raise ValueError("the texts of the alternatives do not match their ids")
    out, at = {}, 0
    for token, n in zip(ids, lengths, strict=True):
        out[token] = sys.intern(text[at : at + n])
        at += n
    return out


@dataclass(frozen=True)
class Decoded:
    records: list[TokenRecord]
    dropped: int  # records that were written but could not be read (0: all of them were)
    problem: str = ""  # why, for the user


def decode(data: Any, limit: int | None = None) -> Decoded:
    """Records from their columnar form, at most `limit` (the reply's length). Never raises."""
    if not isinstance(data, dict):
        return Decoded([], 1, "per-token data is not an object")
    n = data.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return Decoded([], 1, "per-token data has no valid count")
    try:
        id_code = "I" if data.get("wide") is True else "H"
        ids, probs, warped = _unpack(id_code, data.get("id")), _unpack("H", data.get("p")), _unpack("H", data.get("w"))
        counts, alt_ids = _unpack("B", data.get("k")), _unpack(id_code, data.get("alt_id"))
        alt_p, alt_w = _unpack("H", data.get("alt_p")), _unpack("H", data.get("alt_w"))
        text_of = _texts(_unpack(id_code, data.get("text_id")), _unpack("H", data.get("text_len")), data.get("text"))
    except ValueError as e:
        return Decoded([], n, f"per-token data is damaged ({e})")
    forced = data.get("forced", [])
    if not isinstance(forced, list):
        return Decoded([], n, "per-token data is damaged (forced tokens)")
    forced_at = {i for i in forced if isinstance(i, int)}
    try:  # optional, and never worth a record: a damaged column means the windows are unknown
        windows = _unpack("H", data["win"]) if "win" in data else array("H")
    except ValueError:
        windows = array("H")
    wanted = min(n, len(ids), len(probs), len(warped), len(counts))
    if limit is not None:
        wanted = min(wanted, limit)
    records: list[TokenRecord] = []
    at = 0
    for i in range(wanted):
        k = counts[i]
        prob, warp = dequantize(probs[i]), dequantize(warped[i])
        if prob is None or warp is None or at + k > min(len(alt_ids), len(alt_p), len(alt_w)):
            break
        row = alt_ids[at : at + k]
        names = [text_of.get(token) for token in row]
        if None in names:
            break
        records.append(
            TokenRecord(
                ids[i],
                prob,
                warp,
                tuple(row),
                tuple(names),  # type: ignore[arg-type]  # no None: checked above
                tuple(dequantize(c) for c in alt_p[at : at + k]),
                tuple(dequantize(c) for c in alt_w[at : at + k]),
                i in forced_at,
                windows[i] if i < len(windows) else 0,
            )
        )
        at += k
    dropped = n - len(records)
    if not dropped:
        return Decoded(records, 0)
    if limit is not None and len(records) == limit < n:
        return Decoded(records, dropped, f"per-token data for {n} tokens, but the reply has {limit} characters")
    return Decoded(records, dropped, f"the per-token data of {dropped} of {n} tokens could not be read")
