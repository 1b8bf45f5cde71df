"""Prometheus metrics in the text exposition format, without a client library.

Why by hand: a handful of counters, gauges read at scrape time, and one histogram are
all the server needs; the hot path only adds to plain integers (no locks: one event
loop), and the text is built when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["ACK_BUCKETS_MS", "Histogram", "Metrics"]

#: Upper bounds (ms) of the ack-latency histogram buckets.
ACK_BUCKETS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)


@dataclass(slots=True)
class Histogram:
    """A cumulative Prometheus histogram over fixed bucket bounds."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> Iterable[str]:
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            yield f'{name}_bucket{{le="{bound:g}"}} {running}'
        yield f'{name}_bucket{{le="+Inf"}} {self.n}'
        yield f"{name}_sum {self.total:.6f}"
        yield f"{name}_count {self.n}"


class Metrics:
    """The server's counters; gauges are callbacks read at scrape time."""

    def __init__(self) -> None:
        self.connections_total = 0
        self.messages_in: dict[str, int] = {}
        self.messages_out = 0
        self.fanout_frames = 0
        self.fanout_batches = 0
        self.fanout_seconds = 0.0
        self.acks = 0
        self.rejects: dict[str, int] = {}
        self.protocol_errors: dict[str, int] = {}
        self.slow_resyncs = 0
        self.slow_closes = 0
        self.http_requests: dict[int, int] = {}
        self.ack_latency_ms = Histogram(ACK_BUCKETS_MS)
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Register a gauge read when ``/metrics`` is scraped."""
        self._gauges[name] = (help_text, read)

    def count_in(self, kind: str) -> None:
        self.messages_in[kind] = self.messages_in.get(kind, 0) + 1

    def count_reject(self, code: str) -> None:
        self.rejects[code] = self.rejects.get(code, 0) + 1

    def count_protocol_error(self, code: str) -> None:
        self.protocol_errors[code] = self.protocol_errors.get(code, 0) + 1

    def render(self) -> str:
        """The text exposition (version 0.0.4)."""
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)

        metric(
            "fairlot_ws_connections_total",
            "counter",
            "WebSocket connections accepted.",
            [f"fairlot_ws_connections_total {self.connections_total}"],
        )
        metric(
            "fairlot_ws_messages_received_total",
            "counter",
            "Client messages received, by type.",
            [
                f'fairlot_ws_messages_received_total{{type="{k}"}} {v}'
                for k, v in sorted(self.messages_in.items())
            ],
        )
        metric(
            "fairlot_ws_messages_sent_total",
            "counter",
            "Server frames written to clients.",
            [f"fairlot_ws_messages_sent_total {self.messages_out}"],
        )
        metric(
            "fairlot_fanout_frames_total",
            "counter",
            "Frames encoded for fan-out (once per codec per batch).",
            [f"fairlot_fanout_frames_total {self.fanout_frames}"],
        )
        metric(
            "fairlot_fanout_batches_total",
            "counter",
            "Durable batches fanned out to a room's members.",
            [f"fairlot_fanout_batches_total {self.fanout_batches}"],
        )
        metric(
            "fairlot_fanout_seconds_total",
            "counter",
            "Time spent handing durable batches to room members (encode and writes).",
            [f"fairlot_fanout_seconds_total {self.fanout_seconds:.6f}"],
        )
        metric("fairlot_acks_total", "counter", "Commands acknowledged.", [f"fairlot_acks_total {self.acks}"])
        metric(
            "fairlot_rejects_total",
            "counter",
            "Commands rejected, by code.",
            [f'fairlot_rejects_total{{code="{k}"}} {v}' for k, v in sorted(self.rejects.items())],
        )
        metric(
            "fairlot_protocol_errors_total",
            "counter",
            "Protocol errors from clients, by code.",
            [
                f'fairlot_protocol_errors_total{{code="{k}"}} {v}'
                for k, v in sorted(self.protocol_errors.items())
            ],
        )
        metric(
            "fairlot_slow_consumers_total",
            "counter",
            "Slow clients resynchronised with a snapshot or closed (4008).",
            [
                f'fairlot_slow_consumers_total{{action="resync"}} {self.slow_resyncs}',
                f'fairlot_slow_consumers_total{{action="close"}} {self.slow_closes}',
            ],
        )
        metric(
            "fairlot_http_requests_total",
            "counter",
            "HTTP responses, by status.",
            [
                f'fairlot_http_requests_total{{status="{k}"}} {v}'
                for k, v in sorted(self.http_requests.items())
            ],
        )
        metric(
            "fairlot_ack_latency_ms",
            "histogram",
            "Command receipt to durable ack, milliseconds.",
            self.ack_latency_ms.lines("fairlot_ack_latency_ms"),
        )
        for name, (help_text, read) in sorted(self._gauges.items()):
            metric(name, "gauge", help_text, [f"{name} {read():g}"])
        return "\n".join(out) + "\n"
