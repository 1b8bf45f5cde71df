"""``SessionPair``: a server ``Session`` and a scripted client, after h11's ConnectionPair.

The client side encodes client messages with the session's codec and decodes whatever
the session queued with ``decode_server``, so every test also checks that the session
only ever writes valid server frames.
"""

from __future__ import annotations

from protocol import AnyCodec, Session
from protocol.messages import ClientMessage, Hello, ServerMessage, Subscribe, Welcome
from protocol.session import ReceivedEvent


class SessionPair:
    """Drive one ``Session`` the way server/ws.py does, with a client made of messages."""

    def __init__(self, codec: AnyCodec, **session_options: int) -> None:
        self.codec = codec
        self.server = Session(codec, **session_options)

    def client_sends(self, *messages: ClientMessage) -> list[ReceivedEvent]:
        """Encode and feed client messages; return the events the session surfaced."""
        for msg in messages:
            self.server.receive_data(self.codec.encode(msg))
        return self.server.events_received()

    def client_sends_raw(self, *frames: bytes | str) -> list[ReceivedEvent]:
        """Feed raw frames; return the events the session surfaced."""
        for frame in frames:
            self.server.receive_data(frame)
        return self.server.events_received()

    def client_receives(self) -> list[ServerMessage]:
        """Drain the session's queue and decode it as the client would."""
        return [self.codec.decode_server(frame) for frame in self.server.data_to_send()]

    def assert_sent(self, *expected: ServerMessage) -> None:
        """The session queued exactly ``expected`` since the last drain (assertFrameSent)."""
        assert self.client_receives() == list(expected)

    def open(self, *rooms: str, token: str | None = None) -> None:
        """Handshake and subscribe, leaving nothing queued."""
        [hello] = self.client_sends(Hello(version=1, token=token))
        assert hello == Hello(version=1, token=token)
        self.server.send(Welcome(session_id="s1", version=1, server_time=1_000))
        assert self.client_receives() == [Welcome(session_id="s1", version=1, server_time=1_000)]
        for room in rooms:
            assert self.client_sends(Subscribe(room=room)) == [Subscribe(room=room)]
