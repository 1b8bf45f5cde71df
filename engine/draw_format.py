"""A draw as an event-sourced stream: the ``draw`` format, driven by its own actor.

Why a format of the same kind as the auctions: a draw then gets everything an auction has
for free: one actor as the only writer, group commit to the Redis journal, projection to
Postgres, snapshots, recovery on start, rooms with resume, and timers on the injected
clock. Why the heavy work stays outside: importing a million rows, building the salted
Merkle tree and signing are pure calls into ``draws/`` that the draw service
(``engine.draw_service``) makes *before* it submits a command; the command carries their
results (hashes, counts, the signed commitment, the certificate) and ``decide`` only
checks that they fit the stream's state. So replay needs nothing but the log, and the
log never holds an entrant's identity (the raw upload is kept by hash in Postgres).

Life of a draw (``status``)::

    created --entries_imported--> imported --entries_imported--> imported
    imported --committed--> committed --run_scheduled--> scheduled
    scheduled --drawn--> revealing --revealed xk--> complete
    revealing/complete --substituted--> (same)

``revealed`` events come from the actor's timer: one winner every ``reveal_interval_ms``
after ``drawn`` (the stage room shows them one by one; a late joiner's snapshot has the
ones revealed so far). The certificate is public once every winner is revealed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bidding import Award, Envelope, Rejected, register_format
from bidding.base import Command, NewEvent
from bidding.errors import InvalidParams, InvalidTransition
from draws import Rules, RulesError

__all__ = [
    "DRAW",
    "CommitDraw",
    "DrawFormat",
    "DrawState",
    "ImportEntries",
    "RecordDraw",
    "RevealNext",
    "ScheduleRun",
    "Substitute",
]

DRAW = "draw"
MAX_PICKS = 1_000  # the certificate (one audit path per pick) rides in one event
MAX_REVEAL_INTERVAL_MS = 3_600_000
MAX_TITLE = 200
BEACON_KINDS = ("commit-reveal", "drand")

CREATED, IMPORTED, COMMITTED, SCHEDULED, REVEALING, COMPLETE = (
    "created",
    "imported",
    "committed",
    "scheduled",
    "revealing",
    "complete",
)


# ---------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class ImportEntries:
    """Entries were parsed and filtered by the service; their bytes are stored by hash."""

    command_id: str
    actor: str
    raw_sha256: str
    source_format: str
    size: int
    rows: int
    eligible: int
    waterfall: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommitDraw:
    """The signed commitment, built by ``draws.prepare_draw`` over the imported entries."""

    command_id: str
    actor: str
    commitment: dict[str, Any]
    commitment_hash: str
    signature: str


@dataclass(frozen=True, slots=True)
class ScheduleRun:
    """Run at the beacon's time; ``beacon_value`` when the host supplies it (drand)."""

    command_id: str
    actor: str
    ready_at_ms: int
    reveal_interval_ms: int
    beacon_value: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordDraw:
    """The sealed certificate, issued by ``draws.issue_certificate`` once the beacon existed."""

    command_id: str
    actor: str
    certificate: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RevealNext:
    """Timer command: reveal the next winner on stage."""

    command_id: str
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class Substitute:
    """A signed substitution appended to the certificate (``draws.add_substitution``)."""

    command_id: str
    actor: str
    certificate: dict[str, Any]
    position: int
    reason: str


# ---------------------------------------------------------------------- state


@dataclass(slots=True)
class DrawState:
    params: dict[str, Any]
    status: str = CREATED
    entries: dict[str, Any] | None = None
    commitment: dict[str, Any] | None = None
    commitment_hash: str = ""
    signature: str = ""
    ready_at_ms: int | None = None
    reveal_interval_ms: int = 0
    beacon_value: dict[str, Any] | None = None
    certificate: dict[str, Any] | None = None
    certificate_hash: str = ""
    drawn_ms: int | None = None
    revealed: list[dict[str, Any]] = field(default_factory=list)
    substitutions: int = 0


def _int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise InvalidParams(f"{name} must be an integer in [{low}, {high}]")
    return value


def _has_nul(value: Any) -> bool:
    """Postgres text and jsonb refuse U+0000: such a value could never be projected."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _refuse(code: str, message: str) -> Rejected:
    return Rejected(code, message)


class DrawFormat:
    """The pure ``draw`` state machine (see the module docstring)."""

    kind = DRAW

    # -- params ---------------------------------------------------------------------

    def normalize_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        allowed = {
            "host",
            "title",
            "winners",
            "alternates",
            "weighted",
            "rules",
            "beacon",
            "reveal_interval_ms",
            "close_ms",
        }
        unknown = set(params) - allowed
        if unknown:
            raise InvalidParams(f"unknown draw parameters: {sorted(unknown)}")
        if _has_nul(dict(params)):
            raise InvalidParams("parameters must not contain U+0000")
        host = params.get("host")
        if not isinstance(host, str) or not 0 < len(host) <= 128:
            raise InvalidParams("host must be a non-empty string")
        title = params.get("title", "Draw")
        if not isinstance(title, str) or len(title) > MAX_TITLE:
            raise InvalidParams(f"title must be a string of at most {MAX_TITLE} characters")
        winners = _int(params, "winners", 1, 1, MAX_PICKS)
        alternates = _int(params, "alternates", 0, 0, MAX_PICKS)
        weighted = params.get("weighted", False)
        if not isinstance(weighted, bool):
            raise InvalidParams("weighted must be a boolean")
        rules_in = params.get("rules", {})
        if not isinstance(rules_in, Mapping):
            raise InvalidParams("rules must be an object")
        try:
            rules = Rules.from_json({**Rules().to_json(), **rules_in}).to_json()
        except (RulesError, KeyError, TypeError, ValueError) as exc:
            raise InvalidParams(f"rules: {exc}") from None
        beacon = params.get("beacon", {"kind": "commit-reveal", "delay_ms": 0})
        if not isinstance(beacon, Mapping) or beacon.get("kind") not in BEACON_KINDS:
            raise InvalidParams(f"beacon.kind must be one of {BEACON_KINDS}")
        if set(beacon) - {"kind", "delay_ms", "round"}:
            raise InvalidParams("beacon accepts kind, delay_ms and round")
        spec: dict[str, Any] = {
            "kind": beacon["kind"],
            "delay_ms": _int(beacon, "delay_ms", 0, 0, 7 * 86_400_000),
        }
        if "round" in beacon:
            if beacon["kind"] != "drand":
                raise InvalidParams("beacon.round is for drand beacons")
            spec["round"] = _int(beacon, "round", 1, 1, 2**53 - 1)
        out: dict[str, Any] = {
            "host": host,
            "title": title,
            "winners": winners,
            "alternates": alternates,
            "weighted": weighted,
            "rules": rules,
            "beacon": spec,
            "reveal_interval_ms": _int(params, "reveal_interval_ms", 1000, 0, MAX_REVEAL_INTERVAL_MS),
        }
        if params.get("close_ms") is not None:
            out["close_ms"] = _int(params, "close_ms", 0, 0, 2**53 - 1)
        return out

    def initial(self, params: Mapping[str, Any]) -> DrawState:
        return DrawState(params=dict(params))

    # -- decide ---------------------------------------------------------------------

    def decide(self, state: DrawState, command: Command, now: int) -> list[NewEvent]:
        status = state.status
        match command:
            case ImportEntries():
                if status not in (CREATED, IMPORTED):
                    raise _refuse("draw_committed", "entries are fixed once the draw is committed")
                picks = state.params["winners"] + state.params["alternates"]
                if command.eligible < picks:
                    raise _refuse(
                        "too_few_entries",
                        f"{command.eligible} eligible entries, the draw needs {picks} picks",
                    )
                return [
                    (
                        "entries_imported",
                        {
                            "raw_sha256": command.raw_sha256,
                            "format": command.source_format,
                            "size": command.size,
                            "rows": command.rows,
                            "eligible": command.eligible,
                            "waterfall": command.waterfall,
                        },
                    )
                ]
            case CommitDraw():
                if status != IMPORTED:
                    raise _refuse("draw_state", f"a draw is committed after its import (it is {status})")
                assert state.entries is not None
                c = command.commitment
                if c.get("raw_import_sha256") != state.entries["raw_sha256"]:
                    raise _refuse("draw_state", "the commitment is not over the imported entries")
                if (c.get("winners"), c.get("alternates")) != (
                    state.params["winners"],
                    state.params["alternates"],
                ):
                    raise _refuse("draw_state", "the commitment's picks differ from the draw's")
                return [
                    (
                        "committed",
                        {
                            "commitment": c,
                            "commitment_hash": command.commitment_hash,
                            "signature": command.signature,
                        },
                    )
                ]
            case ScheduleRun():
                if status != COMMITTED:
                    raise _refuse("draw_state", f"only a committed draw can run (it is {status})")
                payload: dict[str, Any] = {
                    "ready_at_ms": command.ready_at_ms,
                    "reveal_interval_ms": command.reveal_interval_ms,
                }
                if command.beacon_value is not None:
                    payload["beacon_value"] = command.beacon_value
                return [("run_scheduled", payload)]
            case RecordDraw():
                if status != SCHEDULED:
                    raise _refuse("draw_state", f"the draw is {status}, not waiting for its beacon")
                body = command.certificate.get("body", {})
                if body.get("commitment_hash") != state.commitment_hash:
                    raise _refuse("draw_state", "the certificate is for another commitment")
                return [
                    (
                        "drawn",
                        {
                            "certificate": command.certificate,
                            "certificate_hash": command.certificate["certificate_hash"],
                            "beacon_value": body.get("beacon_value"),
                        },
                    )
                ]
            case RevealNext():
                deadline = self.next_deadline(state)
                if deadline is None or now < deadline:
                    return []  # an early or stale timer: nothing to reveal yet
                assert state.certificate is not None
                k = len(state.revealed)
                pick = state.certificate["body"]["winners"][k]
                return [("revealed", {"k": k + 1, "winner": pick})]
            case Substitute():
                if status not in (REVEALING, COMPLETE):
                    raise _refuse("draw_state", "substitutions come after the draw")
                cert = command.certificate
                if cert.get("certificate_hash") != state.certificate_hash:
                    raise _refuse("draw_state", "the substitution is for another certificate")
                subs = cert.get("substitutions")
                if not isinstance(subs, list) or len(subs) != state.substitutions + 1:
                    raise _refuse("draw_state", "a substitution appends exactly one signed record")
                return [
                    (
                        "substituted",
                        {
                            "position": command.position,
                            "reason": command.reason,
                            "substitution": subs[-1],
                        },
                    )
                ]
        raise _refuse("invalid_command", f"{type(command).__name__} does not apply to a draw")

    # -- evolve ---------------------------------------------------------------------

    def evolve(self, state: DrawState, event: Envelope) -> DrawState:
        p = event.payload
        status = state.status
        match event.type:
            case "entries_imported" if status in (CREATED, IMPORTED):
                state.entries = dict(p)
                state.status = IMPORTED
            case "committed" if status == IMPORTED:
                state.commitment = p["commitment"]
                state.commitment_hash = p["commitment_hash"]
                state.signature = p["signature"]
                state.status = COMMITTED
            case "run_scheduled" if status == COMMITTED:
                state.ready_at_ms = p["ready_at_ms"]
                state.reveal_interval_ms = p["reveal_interval_ms"]
                state.beacon_value = p.get("beacon_value")
                state.status = SCHEDULED
            case "drawn" if status == SCHEDULED:
                state.certificate = p["certificate"]
                state.certificate_hash = p["certificate_hash"]
                state.beacon_value = p.get("beacon_value")
                state.drawn_ms = event.time
                state.status = REVEALING
                self._maybe_complete(state)
            case "revealed" if status == REVEALING and p["k"] == len(state.revealed) + 1:
                state.revealed.append(p["winner"])
                self._maybe_complete(state)
            case "substituted" if status in (REVEALING, COMPLETE) and state.certificate is not None:
                cert = state.certificate
                state.certificate = {**cert, "substitutions": [*cert["substitutions"], p["substitution"]]}
                state.substitutions += 1
            case _:
                raise InvalidTransition(f"{event.type!r} cannot follow a draw that is {status}")
        return state

    @staticmethod
    def _maybe_complete(state: DrawState) -> None:
        if len(state.revealed) >= state.params["winners"]:
            state.status = COMPLETE

    # -- timers and views -----------------------------------------------------------

    def next_deadline(self, state: DrawState) -> int | None:
        if state.status != REVEALING or state.drawn_ms is None:
            return None
        # At least 1 ms apart: each reveal gets its own deadline (the actor re-arms a timer
        # only for a new deadline), so an interval of 0 reveals them in quick succession.
        return state.drawn_ms + max(1, state.reveal_interval_ms) * (len(state.revealed) + 1)

    def timer_command(self, state: DrawState, deadline: int, command_id: str) -> RevealNext:
        return RevealNext(command_id)

    def result(self, state: DrawState) -> list[Award] | None:
        return None  # a draw has winners, not awards: see its certificate

    def commitment(self, state: DrawState, command: Command, now: int) -> int | None:
        return None

    def exposure(self, state: DrawState) -> dict[str, int]:
        return {}

    def public_view(self, state: DrawState) -> dict[str, Any]:
        """What anyone may see now: never an unrevealed winner before the stage shows it."""
        p = state.params
        view: dict[str, Any] = {
            "status": state.status,
            "title": p["title"],
            "host": p["host"],
            "winners": p["winners"],
            "alternates": p["alternates"],
            "weighted": p["weighted"],
            "rules": p["rules"],
            "beacon": p["beacon"],
            "entries": state.entries,
            "commitment": state.commitment,
            "commitment_hash": state.commitment_hash or None,
            "ready_at_ms": state.ready_at_ms,
            "reveal_interval_ms": p["reveal_interval_ms"]
            if state.ready_at_ms is None
            else state.reveal_interval_ms,
            "revealed": list(state.revealed),
            "next_reveal_ms": self.next_deadline(state),
            "certificate_hash": state.certificate_hash or None,
            "substitutions": state.substitutions,
            "price": None,
            "leader": None,
        }
        return view

    def public_event(self, params: Mapping[str, Any], event: Envelope) -> dict[str, Any] | None:
        """Live rooms get ``drawn`` without the certificate: winners come one by one."""
        if event.type == "drawn":
            return {
                "certificate_hash": event.payload["certificate_hash"],
                "beacon_value": event.payload.get("beacon_value"),
            }
        return None


DRAW_FORMAT = DrawFormat()
register_format(DRAW_FORMAT)
