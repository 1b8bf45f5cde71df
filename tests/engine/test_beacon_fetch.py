"""drand relay fetching against local HTTP servers on 127.0.0.1 (no internet needed).

Relays: one refuses connections, one answers 500, one serves garbage, one a wrong round,
one a forged signature, one the recorded round. Only the last may be accepted.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from draws import BeaconNotReady, BeaconSpec
from engine.beacon_fetch import BeaconUnavailable, RelayConfig, fetch_round, fetch_round_async
from tests.draws.helpers import RANDOMNESS, ROUND, ROUND_TIME_MS, SIGNATURE

GOOD = {"round": ROUND, "signature": SIGNATURE.hex(), "randomness": RANDOMNESS.hex()}
FORGED = {**GOOD, "signature": "8" + SIGNATURE.hex()[1:]}
WRONG_ROUND = {**GOOD, "round": ROUND + 1}


def serve(status: int, body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def relays() -> Iterator[dict[str, str]]:
    specs = {
        "error": (500, b"oops"),
        "garbage": (200, b"<html>"),
        "wrong_round": (200, json.dumps(WRONG_ROUND).encode()),
        "forged": (200, json.dumps(FORGED).encode()),
        "good": (200, json.dumps(GOOD).encode()),
    }
    servers = {name: serve(*spec) for name, spec in specs.items()}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: connection refused
    urls = {name: url for name, (_, url) in servers.items()} | {"dead": dead}
    yield urls
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()


def config(urls: dict[str, str], *names: str) -> RelayConfig:
    return RelayConfig(relays=tuple(urls[n] for n in names), timeout_s=2.0, proxies={})


def test_fails_over_to_the_first_relay_that_verifies(relays: dict[str, str]) -> None:
    spec = BeaconSpec.drand(ROUND)
    order = ("dead", "error", "garbage", "wrong_round", "forged", "good")
    value = fetch_round(spec, ROUND_TIME_MS, config(relays, *order))
    assert value.round == ROUND and value.signature == SIGNATURE
    assert value.randomness == RANDOMNESS


def test_all_relays_bad_is_an_error_listing_each(relays: dict[str, str]) -> None:
    spec = BeaconSpec.drand(ROUND)
    order = ("dead", "error", "garbage", "wrong_round", "forged")
    with pytest.raises(BeaconUnavailable) as err:
        fetch_round(spec, ROUND_TIME_MS, config(relays, *order))
    reasons = dict(err.value.failures)
    assert len(reasons) == 5
    assert "WrongRound" in reasons[relays["wrong_round"]]
    assert "BeaconInvalid" in reasons[relays["forged"]]
    assert "HTTP" in reasons[relays["error"]] or "500" in reasons[relays["error"]]


def test_nothing_is_requested_before_the_round(relays: dict[str, str]) -> None:
    with pytest.raises(BeaconNotReady):
        fetch_round(BeaconSpec.drand(ROUND), ROUND_TIME_MS - 1, config(relays, "good"))
    with pytest.raises(ValueError):
        fetch_round(BeaconSpec.commit_reveal(bytes(32), 1), ROUND_TIME_MS, config(relays, "good"))


async def test_async_wrapper(relays: dict[str, str]) -> None:
    value = await fetch_round_async(BeaconSpec.drand(ROUND), ROUND_TIME_MS, config(relays, "forged", "good"))
    assert value.randomness == RANDOMNESS
