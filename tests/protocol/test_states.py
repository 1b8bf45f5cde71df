"""The state tables are complete and consistent."""

from __future__ import annotations

import itertools

from protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES
from protocol.states import RECEIVABLE, SENDABLE, TRANSITIONS, SessionState, Trigger, next_state

S = SessionState


def test_every_state_has_receive_and_send_rules() -> None:
    assert set(RECEIVABLE) == set(SessionState) == set(SENDABLE)
    client_tags = {cls.type for cls in CLIENT_MESSAGE_TYPES}
    server_tags = {cls.type for cls in SERVER_MESSAGE_TYPES}
    assert all(tags <= client_tags for tags in RECEIVABLE.values())
    assert all(tags <= server_tags for tags in SENDABLE.values())


def test_handshake_path() -> None:
    assert next_state(S.CONNECTING, Trigger.RECV_HELLO) is S.HANDSHAKE
    assert next_state(S.HANDSHAKE, Trigger.SEND_WELCOME) is S.OPEN
    assert RECEIVABLE[S.CONNECTING] == {"hello", "ping"}
    assert "hello" not in RECEIVABLE[S.OPEN] and "hello" not in RECEIVABLE[S.HANDSHAKE]
    assert SENDABLE[S.HANDSHAKE] - SENDABLE[S.CONNECTING] == {"welcome"}
    assert "welcome" not in SENDABLE[S.OPEN]
    assert {"ack", "event", "batch", "snapshot"} <= SENDABLE[S.OPEN]


def test_every_live_state_can_close_and_be_lost() -> None:
    for state in (S.CONNECTING, S.HANDSHAKE, S.OPEN, S.CLOSING):
        assert next_state(state, Trigger.CLOSE) is S.CLOSING
        assert next_state(state, Trigger.CONNECTION_LOST) is S.CLOSED


def test_closed_is_terminal_and_closing_is_mute() -> None:
    for trigger in Trigger:
        assert next_state(S.CLOSED, trigger) in (None, S.CLOSED)
    for state in (S.CLOSING, S.CLOSED):
        assert RECEIVABLE[state] == frozenset() == SENDABLE[state]


def test_table_lookup_matches_next_state() -> None:
    for state, trigger in itertools.product(SessionState, Trigger):
        assert next_state(state, trigger) is TRANSITIONS.get((state, trigger))
    assert next_state(S.OPEN, Trigger.RECV_HELLO) is None
    assert next_state(S.CONNECTING, Trigger.SEND_WELCOME) is None
