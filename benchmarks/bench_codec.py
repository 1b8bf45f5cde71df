"""Codec throughput: encode/decode per second for both codecs vs the stdlib ``json``.

Workloads: a ``place_bid`` (client -> server, strict decode into a message), an
``event`` (server -> client, encoded once per codec for fan-out) and a ``batch`` of 50
events. "ours" includes everything the server pays: building the wire object from the
dataclass, the strict checks and building the dataclass on decode. The stdlib baseline
only dumps/loads the equivalent plain dict (no validation), in the same run, so the ratio
is meaningful on a machine whose speed drifts.

Run: ``.venv/bin/python benchmarks/bench_codec.py [--repeat 5] [--min-time 0.2]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol import (
    JSON,
    MSGPACK,
    Ack,
    AnyCodec,
    Batch,
    Event,
    Hello,
    PlaceBid,
    Session,
    Subscribe,
    Welcome,
)
from protocol.wire import to_wire

BID = PlaceBid(id="cmd-000123", room="auction-42", amount=125_000, currency="EUR")
EVENT = Event(
    room="auction-42",
    seq=1_234,
    kind="bid_accepted",
    time=1_732_200_000_000,
    data={"bidder": "u-981", "amount": 125_000, "currency": "EUR", "leader": "u-981"},
)
EVENTS = tuple(
    Event(room=EVENT.room, seq=EVENT.seq + i, kind=EVENT.kind, time=EVENT.time + i, data=EVENT.data)
    for i in range(50)
)
BATCH = Batch(room=EVENT.room, events=EVENTS)


def rate(fn: Callable[[], object], repeat: int, min_time: float) -> float:
    """Median calls per second over ``repeat`` runs of at least ``min_time`` seconds."""
    number = 1
    while True:  # calibrate
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time / 4:
            break
        number *= 2
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rates.append(number / (time.perf_counter() - start))
    return statistics.median(rates)


def open_session(codec: AnyCodec) -> Session:
    """A session past the handshake, subscribed to the benchmark room."""
    session = Session(codec)
    session.receive_data(codec.encode(Hello(version=1)))
    session.receive_data(codec.encode(Subscribe(room=BID.room)))
    session.events_received()
    session.send(Welcome(session_id="s", version=1, server_time=0))
    session.data_to_send()
    return session


def session_rows(repeat: int, min_time: float) -> None:
    """Per-message session overhead on top of the bare codec (same run)."""
    ack = Ack(id=BID.id, room=BID.room, seq=1)
    for codec in (MSGPACK, JSON):
        session = open_session(codec)
        frame = codec.encode(BID)
        event_frame = codec.encode(EVENT)

        def receive(session: Session = session, frame: bytes | str = frame) -> object:
            session.receive_data(frame)
            return session.events_received()

        def send(session: Session = session) -> object:
            session.send(ack)
            return session.data_to_send()

        def send_frame(session: Session = session, frame: bytes | str = event_frame) -> object:
            session.send_frame(frame)
            return session.data_to_send()

        def decode(codec: AnyCodec = codec, frame: bytes | str = frame) -> object:
            return codec.decode(frame)

        def encode(codec: AnyCodec = codec) -> object:
            return codec.encode(ack)

        bare_decode = rate(decode, repeat, min_time)
        bare_encode = rate(encode, repeat, min_time)
        name = "msgpack" if codec is MSGPACK else "orjson"
        for label, fn, bare in (
            ("session receive place_bid", receive, bare_decode),
            ("session send ack", send, bare_encode),
        ):
            ops = rate(fn, repeat, min_time)
            print(f"{label:34} {name:8} {ops:12,.0f} {1e6 / ops:8.2f}   vs bare codec {ops / bare:5.2f}")
        ops = rate(send_frame, repeat, min_time)
        print(f"{'session send_frame (fan-out)':34} {name:8} {ops:12,.0f} {1e6 / ops:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    args = parser.parse_args()

    mp_events = [MSGPACK.encode(e) for e in EVENTS]
    js_events = [JSON.encode(e) for e in EVENTS]
    bid_wire, event_wire, batch_wire = to_wire(BID), to_wire(EVENT), to_wire(BATCH)
    frames: dict[str, tuple[bytes | str, bytes | str, bytes | str]] = {
        "msgpack": (MSGPACK.encode(BID), MSGPACK.encode(EVENT), MSGPACK.encode(BATCH)),
        "orjson": (JSON.encode(BID), JSON.encode(EVENT), JSON.encode(BATCH)),
        "stdlib": (json.dumps(bid_wire), json.dumps(event_wire), json.dumps(batch_wire)),
    }
    e = EVENT
    cases: dict[str, dict[str, Callable[[], object]]] = {
        "place_bid encode": {
            "msgpack": lambda: MSGPACK.encode(BID),
            "orjson": lambda: JSON.encode(BID),
            "stdlib": lambda: json.dumps(to_wire(BID)),
        },
        "place_bid decode (strict)": {
            "msgpack": lambda: MSGPACK.decode(frames["msgpack"][0]),
            "orjson": lambda: JSON.decode(frames["orjson"][0]),
            "stdlib": lambda: json.loads(frames["stdlib"][0]),
        },
        "event encode (encode_event)": {
            "msgpack": lambda: MSGPACK.encode_event(e.room, e.seq, e.kind, e.time, e.data),
            "orjson": lambda: JSON.encode_event(e.room, e.seq, e.kind, e.time, e.data),
            "stdlib": lambda: json.dumps(
                {
                    "type": "event",
                    "room": e.room,
                    "seq": e.seq,
                    "kind": e.kind,
                    "time": e.time,
                    "data": e.data,
                }
            ),
        },
        "event encode (Event object)": {
            "msgpack": lambda: MSGPACK.encode(EVENT),
            "orjson": lambda: JSON.encode(EVENT),
            "stdlib": lambda: json.dumps(to_wire(EVENT)),
        },
        "event decode": {
            "msgpack": lambda: MSGPACK.decode_server(frames["msgpack"][1]),
            "orjson": lambda: JSON.decode_server(frames["orjson"][1]),
            "stdlib": lambda: json.loads(frames["stdlib"][1]),
        },
        "batch(50) encode (splice)": {
            "msgpack": lambda: MSGPACK.encode_batch(BATCH.room, mp_events),
            "orjson": lambda: JSON.encode_batch(BATCH.room, js_events),
            "stdlib": lambda: json.dumps(batch_wire),
        },
        "batch(50) encode (Batch object)": {
            "msgpack": lambda: MSGPACK.encode(BATCH),
            "orjson": lambda: JSON.encode(BATCH),
            "stdlib": lambda: json.dumps(to_wire(BATCH)),
        },
        "batch(50) decode": {
            "msgpack": lambda: MSGPACK.decode_server(frames["msgpack"][2]),
            "orjson": lambda: JSON.decode_server(frames["orjson"][2]),
            "stdlib": lambda: json.loads(frames["stdlib"][2]),
        },
    }
    sizes = {name: [len(f) for f in fs] for name, fs in frames.items()}
    print(f"python {sys.version.split()[0]}; median of {args.repeat} runs >= {args.min_time}s")
    print(f"frame sizes (bid, event, batch50): {sizes}")
    print("stdlib = json.dumps/json.loads of the same plain dicts, no validation")
    print(f"{'case':34} {'codec':8} {'ops/s':>12} {'us/op':>8} {'x stdlib':>9}")
    for case, impls in cases.items():
        base = rate(impls["stdlib"], args.repeat, args.min_time)
        for name in ("msgpack", "orjson"):
            ops = rate(impls[name], args.repeat, args.min_time)
            print(f"{case:34} {name:8} {ops:12,.0f} {1e6 / ops:8.2f} {ops / base:9.2f}")
        print(f"{case:34} {'stdlib':8} {base:12,.0f} {1e6 / base:8.2f} {1.0:9.2f}")
    print()
    print("sans-I/O session overhead (includes the codec; ratio vs the bare codec call)")
    session_rows(args.repeat, args.min_time)


if __name__ == "__main__":
    main()
