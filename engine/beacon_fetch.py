"""Fetch a drand round from HTTP relays, one after another, keeping only a value that verifies.

Why several relays: any one may be down, slow, or lying; since every value is checked
against the pinned public key (``draws.beacon.check_beacon``), a lying relay can cause at
most a delay, never a wrong draw. Before the round's emission time nothing is requested:
the draw refuses early values anyway (``BeaconNotReady``).

stdlib ``urllib`` keeps the dependency list short; ``fetch_round_async`` runs it in a thread.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field

from draws.beacon import DRAND, BeaconSpec, BeaconValue, check_beacon
from draws.errors import BeaconError, BeaconNotReady

DEFAULT_RELAYS = (
    "https://api.drand.sh",
    "https://drand.cloudflare.com",
    "https://api2.drand.sh",
    "https://api3.drand.sh",
)
MAX_RESPONSE_BYTES = 64 * 1024


class BeaconUnavailable(BeaconError):
    """No relay returned a value for the round that verifies; ``failures`` says why each."""

    code = "beacon_unavailable"

    def __init__(self, round_: int, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        detail = "; ".join(f"{relay}: {why}" for relay, why in failures)
        super().__init__(f"no relay gave a valid value for round {round_} ({detail})")


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Relays to try in order, a per-request timeout, and proxies (None: from environment)."""

    relays: tuple[str, ...] = DEFAULT_RELAYS
    timeout_s: float = 5.0
    proxies: dict[str, str] | None = field(default=None)


def _get(url: str, config: RelayConfig) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(config.proxies))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with opener.open(request, timeout=config.timeout_s) as response:
        body: bytes = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ValueError("response too large")
    return body


def _parse(body: bytes) -> BeaconValue:
    data = json.loads(body)
    return BeaconValue.drand(
        int(data["round"]),
        bytes.fromhex(data["signature"]),
        bytes.fromhex(data["randomness"]),
    )


def fetch_round(spec: BeaconSpec, now_ms: int, config: RelayConfig | None = None) -> BeaconValue:
    """Return round ``spec.round`` from the first relay whose answer verifies.

    Raises BeaconNotReady before the round's time and BeaconUnavailable when every relay
    failed (unreachable, HTTP error, garbage, wrong round, bad signature).
    """
    config = config or RelayConfig()
    if spec.kind != DRAND:
        raise ValueError("only drand beacons are fetched; commit-reveal values come from the host")
    if now_ms < spec.ready_at_ms():
        raise BeaconNotReady(f"round {spec.round} is due at {spec.ready_at_ms()} ms")
    failures: list[tuple[str, str]] = []
    for relay in config.relays:
        url = f"{relay.rstrip('/')}/{spec.chain_hash}/public/{spec.round}"
        try:
            value = _parse(_get(url, config))
            check_beacon(spec, value)
        except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as exc:
            failures.append((relay, f"{type(exc).__name__}: {exc}"))
            continue
        except BeaconError as exc:
            failures.append((relay, f"{type(exc).__name__}: {exc}"))
            continue
        return value
    raise BeaconUnavailable(spec.round, failures)


async def fetch_round_async(spec: BeaconSpec, now_ms: int, config: RelayConfig | None = None) -> BeaconValue:
    """``fetch_round`` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(fetch_round, spec, now_ms, config)
