"""Sessions: what a person chatted, with everything needed to reproduce each turn. No torch.

This module is the data model and its file format; `session_store.SessionStore` keeps the files
(atomic saves, listing, rename, delete) and `session_export` renders Markdown and JSON.

File format, schema_version 3 (one UTF-8 JSON object per session):
    {"schema_version": 3, "name", "created_at", "updated_at", "model": {"name", "sha256", "server"},
     "params": {<SamplingParams fields>}, "seed_mode", "fixed_seed", "context_mode",
     "turns": [{"prompt", "reply", "stop_reason", "params", "seed", "context_mode", "model",
                "tokens", "decode_tokens_per_s", "prefill_ms", "started_at", "finished_at",
                "error", "records", "params_changes", "branch", "stop", "skipped", "alternatives", "alternative"}, ...]}
`records` is the turn's per-token data in the columnar form of `token_record` (one compact
object per turn); `params_changes` lists [step, {SamplingParams}] where the knobs changed during
the reply (step 0 first); `branch` is {"turn", "at", "was"} for a reply branched from another;
`alternatives` are the turn's other replies (each a turn object without alternatives of its
own; Ctrl+R keeps the reply it replaces there) and `alternative` the shown reply's place among
all of them; `stop` lists the stop strings and `skipped` the characters the model did not know.
A model is a file (its name and a sha256 prefix) or, for a turn generated through `--server`, the
server's URL and the model name it gave ("server" is absent in files written before it existed).
Loading checks every field's type (a wrong shape is a SessionError naming the field, never a
crash later in the UI), migrates older schema versions step by step, and refuses newer ones.
Per-token data is checked too, but it never makes a file unreadable: what does not hold together
is dropped, the text is kept, and `Session.notes` says what was dropped, for the user.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, get_args

from . import token_record
from .api import ContextMode, SamplingParams, StopReason
from .errors import UserError
from .session_migrations import migrate
from .token_record import TokenRecord

SCHEMA_VERSION = 3
SEED_MODES = ("random", "fixed")
STOP_REASONS = get_args(StopReason)
CONTEXT_MODES = ("fresh", "continue")


class SessionError(UserError):
    """A session file that cannot be read or written; the message names the file and the problem."""


@dataclass(frozen=True)
class ModelRef:
    """Which model produced a turn: file name plus a sha256 prefix of the checkpoint file, or the
    model name an OpenAI-compatible server gave plus that server's URL."""

    name: str
    sha256: str = ""
    server: str = ""  # the server's URL (without credentials); "" for a model file run here

    @property
    def short(self) -> str:
        if self.server:
            return f"{self.name or 'a model'} on {self.server}"
        return f"{self.name}@{self.sha256[:12]}" if self.sha256 else self.name


@dataclass(frozen=True)
class BranchRef:
    """Where a branched reply came from: turn `turn` (1-based), at its character `at` (1-based),
    where the model had written `was`."""

    turn: int
    at: int
    was: str


@dataclass
class Turn:
    prompt: str
    reply: str = ""
    stop_reason: StopReason | None = None  # None while generating
    params: SamplingParams = field(default_factory=SamplingParams)  # the settings at the start
    seed: int = 0  # the seed actually used
    context_mode: ContextMode = "fresh"
    model: ModelRef = field(default_factory=lambda: ModelRef(""))
    tokens: int = 0
    decode_tokens_per_s: float = 0.0
    prefill_ms: float = 0.0
    started_at: str = ""  # ISO 8601, UTC
    finished_at: str = ""
    error: str = ""
    records: list[TokenRecord] = field(default_factory=list)  # one per reply character (see token_record)
    params_changes: list[tuple[int, SamplingParams]] = field(default_factory=list)  # (step, knobs from then on)
    branch: BranchRef | None = None
    stop: tuple[str, ...] = ()  # the stop strings the reply was generated with
    skipped: tuple[str, ...] = ()  # characters of the text sent that the model skipped (not in its vocabulary)
    # The turn's other replies (Ctrl+R keeps the one it replaces), in order, and where this one
    # stands among all of them: `versions` is the whole list. The alternatives have none of their own.
    alternatives: list[Turn] = field(default_factory=list)
    alternative: int = 0

    @property
    def versions(self) -> list[Turn]:
        """Every reply of this turn, in order (this one at `alternative`)."""
        at = min(self.alternative, len(self.alternatives))
        return [*self.alternatives[:at], self, *self.alternatives[at:]]

    def shown_as(self, index: int) -> Turn:
        """Version `index` of this turn, holding the others as its alternatives (this one's are cleared)."""
        versions = self.versions
        chosen = versions[index]
        chosen.alternatives = [v for v in versions if v is not chosen]
        chosen.alternative = index
        if chosen is not self:
            self.alternatives, self.alternative = [], 0
        return chosen


@dataclass
class Session:
    name: str
    turns: list[Turn] = field(default_factory=list)
    params: SamplingParams = field(default_factory=SamplingParams)  # current sidebar settings
    seed_mode: str = "random"  # "random" or "fixed"
    fixed_seed: int = 0
    context_mode: ContextMode = "fresh"
    created_at: str = ""
    updated_at: str = ""  # set by every save: the "last used" of the sessions list
    schema_version: int = SCHEMA_VERSION
    model: ModelRef = field(default_factory=lambda: ModelRef(""))  # the model the session has open
    notes: list[str] = field(default_factory=list, compare=False)  # what loading dropped (not saved)

    @property
    def current_model(self) -> ModelRef:
        """The session's model, else the one of its last turn (for the sessions list)."""
        if self.model.name or not self.turns:
            return self.model
        return self.turns[-1].model


def utc_now() -> str:
    """A timestamp for created_at/updated_at/started_at: ISO 8601, UTC, milliseconds."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _turn_to_dict(turn: Turn, nested: bool = False) -> dict[str, Any]:
    data = {f.name: getattr(turn, f.name) for f in fields(Turn)}
    del data["alternatives"], data["alternative"]
    if not nested:
        data["alternatives"] = [_turn_to_dict(t, nested=True) for t in turn.alternatives]
        data["alternative"] = min(turn.alternative, len(turn.alternatives))
    data["params"], data["model"] = asdict(turn.params), asdict(turn.model)
    data["records"] = token_record.encode(turn.records) if turn.records else None
    data["params_changes"] = [[step, asdict(params)] for step, params in turn.params_changes]
    data["branch"] = asdict(turn.branch) if turn.branch is not None else None
    data["stop"], data["skipped"] = list(turn.stop), list(turn.skipped)
    return data


def session_to_dict(session: Session) -> dict[str, Any]:
    """The JSON document of a session (always the current schema version)."""
    # Version, name and sidebar settings first, the long list of turns last: easy to read by eye.
    return {
        "schema_version": SCHEMA_VERSION,
        "name": session.name,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "model": asdict(session.model),
        "params": asdict(session.params),
        "seed_mode": session.seed_mode,
        "fixed_seed": session.fixed_seed,
        "context_mode": session.context_mode,
        "turns": [_turn_to_dict(t) for t in session.turns],
    }


def dumps_session(session: Session) -> bytes:
    """Indented JSON; the per-token data is a few long base64 lines per turn."""
    data = session_to_dict(session)
    try:
        return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (e.g. pasted bytes) has no UTF-8 form: fall back to \\u escapes, which
        # round-trip exactly.
        return (json.dumps(data, ensure_ascii=True, indent=1) + "\n").encode("ascii")


def loads_session(raw: bytes | str, origin: str = "session") -> Session:
    """Parse, migrate and check a session file's contents; SessionError if it is not one."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")  # tolerate a BOM added by a Windows editor
        except UnicodeDecodeError as e:
            raise SessionError(f"{origin}: not UTF-8 text (byte {e.start})") from None
    try:
        data = json.loads(raw)
    except RecursionError:
        raise SessionError(f"{origin}: not a session file (JSON nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError, or an integer with too many digits
        raise SessionError(f"{origin}: not valid JSON ({e})") from None
    return session_from_dict(data, origin)


class _Bad(Exception):
    """A field with the wrong type or value; the message starts with the field's path."""


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # JSON true must not pass as 1


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise _Bad(f"{where}: expected a string, got {_show(v)}")
    return v


def _count(v: Any, where: str) -> int:
    if not _is_int(v) or v < 0:
        raise _Bad(f"{where}: expected a whole number of 0 or more, got {_show(v)}")
    return int(v)


def _seed(v: Any, where: str) -> int:
    if not _is_int(v) or not 0 <= v < 2**64:  # what torch.Generator.manual_seed accepts
        raise _Bad(f"{where}: expected a seed from 0 to 2**64 - 1, got {_show(v)}")
    return int(v)


def _number(v: Any, where: str) -> float:
    if not (_is_int(v) or isinstance(v, float)):
        raise _Bad(f"{where}: expected a number, got {_show(v)}")
    try:
        return float(v)
    except OverflowError:
        raise _Bad(f"{where}: expected a number, got a {len(str(v))}-digit integer") from None


def _strings(v: Any, where: str) -> tuple[str, ...]:
    return tuple(_str(s, f"{where}[{i}]") for i, s in enumerate(_list(v, where)))


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise _Bad(f"{where}: expected a list, got {_show(v)}")
    return v


def _choice(options: tuple[str, ...], optional: bool = False) -> Callable[[Any, str], Any]:
    def check(v: Any, where: str) -> Any:
        if not (v in options and isinstance(v, str)) and not (optional and v is None):
            allowed = ", ".join(options) + (" or null" if optional else "")
            raise _Bad(f"{where}: expected one of {allowed}, got {_show(v)}")
        return v

    return check


def _object(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _Bad(
            f"{where}: expected a JSON object, got {_show(v)}"
            if where
            else f"not a session file (expected a JSON object, got {_show(v)})"
        )
    return v


def _params(v: Any, where: str) -> SamplingParams:
    """Missing knobs take their defaults (a file from before a knob existed); values are range-checked."""
    v = _object(v, where)
    given: dict[str, Any] = {}
    for f in fields(SamplingParams):
        if f.name in v:
            if isinstance(f.default, int):
                given[f.name] = _count(v[f.name], f"{where}.{f.name}")
            else:
                given[f.name] = _number(v[f.name], f"{where}.{f.name}")
    params = SamplingParams(**given)
    try:
        params.validate()
    except ValueError as e:
        raise _Bad(f"{where}: {e}") from None
    return params


def _model(v: Any, where: str) -> ModelRef:
    v = _object(v, where)
    return ModelRef(
        _get(v, "name", where, _str), _get(v, "sha256", where, _str, ""), _get(v, "server", where, _str, "")
    )


_REQUIRED = object()


def _get(d: dict[str, Any], key: str, where: str, check: Callable[[Any, str], Any], default: Any = _REQUIRED) -> Any:
    path = f"{where}.{key}" if where else key
    if key not in d:
        if default is _REQUIRED:
            raise _Bad(f"{path}: missing")
        return default
    return check(d[key], path)


def _branch(v: Any, where: str) -> BranchRef | None:
    if v is None:
        return None
    v = _object(v, where)
    return BranchRef(_get(v, "turn", where, _count), _get(v, "at", where, _count), _get(v, "was", where, _str))


def _turn(v: Any, where: str, notes: list[str], nested: bool = False) -> Turn:
    v = _object(v, where)
    turn = Turn(
        prompt=_get(v, "prompt", where, _str),
        reply=_get(v, "reply", where, _str, ""),
        stop_reason=_get(v, "stop_reason", where, _choice(STOP_REASONS, optional=True), None),
        params=_get(v, "params", where, _params, SamplingParams()),
        seed=_get(v, "seed", where, _seed, 0),
        context_mode=_get(v, "context_mode", where, _choice(CONTEXT_MODES), "fresh"),
        model=_get(v, "model", where, _model, ModelRef("")),
        tokens=_get(v, "tokens", where, _count, 0),
        decode_tokens_per_s=_get(v, "decode_tokens_per_s", where, _number, 0.0),
        prefill_ms=_get(v, "prefill_ms", where, _number, 0.0),
        started_at=_get(v, "started_at", where, _str, ""),
        finished_at=_get(v, "finished_at", where, _str, ""),
        error=_get(v, "error", where, _str, ""),
        stop=_get(v, "stop", where, _strings, ()),
        skipped=_get(v, "skipped", where, _strings, ()),
    )
    _per_token(turn, v, where, notes)
    if not nested:
        others = _get(v, "alternatives", where, _list, [])
        turn.alternatives = [_turn(t, f"{where}.alternatives[{i}]", notes, True) for i, t in enumerate(others)]
        turn.alternative = _get(v, "alternative", where, _count, 0)
        if turn.alternative > len(turn.alternatives):
            raise _Bad(f"{where}.alternative: {turn.alternative} is past its {len(turn.alternatives)} alternatives")
    return turn


def _per_token(turn: Turn, v: dict[str, Any], where: str, notes: list[str]) -> None:
    """The turn's per-token data: whatever is invalid is dropped (and noted), the text stays."""
    if v.get("records") is not None:
        decoded = token_record.decode(v["records"], limit=len(turn.reply))
        turn.records = decoded.records
        if decoded.dropped:
            notes.append(f"{where}: {decoded.problem}; dropped (the text is kept)")
    try:
        changes = _get(v, "params_changes", where, _list, [])
        turn.params_changes = [_change(c, f"{where}.params_changes[{i}]") for i, c in enumerate(changes)]
    except _Bad as e:
        notes.append(f"{e}; the knobs in force during this reply were dropped")
    try:
        turn.branch = _get(v, "branch", where, _branch, None)
    except _Bad as e:
        notes.append(f"{e}; dropped")


def _change(v: Any, where: str) -> tuple[int, SamplingParams]:
    if not isinstance(v, list) or len(v) != 2:
        raise _Bad(f"{where}: expected [step, settings], got {_show(v)}")
    return _count(v[0], f"{where}[0]"), _params(v[1], f"{where}[1]")


def session_from_dict(data: Any, origin: str = "session") -> Session:
    """A Session from a parsed JSON document of any known schema version, or SessionError."""
    try:
        data = _object(data, "")
        version = data.get("schema_version", 0)  # the draft format had no version: 0
        if not _is_int(version) or version < 0:
            raise _Bad(f"schema_version: expected a whole number, got {_show(version)}")
        if version > SCHEMA_VERSION:
            raise _Bad(
                f"written by a newer babygpt-tui (session schema {version}; this version reads up to "
                f"{SCHEMA_VERSION}); upgrade babygpt-tui to open it"
            )
        data = migrate(data, version, SCHEMA_VERSION)
        turns = _get(data, "turns", "", _list, [])
        notes: list[str] = []
        return Session(
            name=_get(data, "name", "", _str),
            turns=[_turn(t, f"turns[{i}]", notes) for i, t in enumerate(turns)],
            params=_get(data, "params", "", _params, SamplingParams()),
            seed_mode=_get(data, "seed_mode", "", _choice(SEED_MODES), "random"),
            fixed_seed=_get(data, "fixed_seed", "", _seed, 0),
            context_mode=_get(data, "context_mode", "", _choice(CONTEXT_MODES), "fresh"),
            created_at=_get(data, "created_at", "", _str, ""),
            updated_at=_get(data, "updated_at", "", _str, ""),
            model=_get(data, "model", "", _model, ModelRef("")),
            notes=notes,
        )
    except _Bad as e:
        raise SessionError(f"{origin}: {e}") from None
