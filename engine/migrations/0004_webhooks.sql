-- Webhooks: an acknowledged POST /webhooks survives restarts, and so does every delivery
-- (an outbox: the row is written before the first attempt, each attempt is recorded on
-- it, and pending rows are resumed at start).
CREATE TABLE webhooks (
    id          text     PRIMARY KEY,
    owner       text     NOT NULL,
    url         text     NOT NULL,
    events      text[]   NOT NULL,
    secret      text     NOT NULL,
    admin       boolean  NOT NULL,
    base_url    text     NOT NULL,
    created_ms  bigint   NOT NULL
);

-- One row per (subscription, durable event): the unique key makes a re-detected event
-- (the same room, seq and kind) a no-op instead of a second delivery.
CREATE TABLE webhook_deliveries (
    id          text     PRIMARY KEY,
    webhook_id  text     NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event       text     NOT NULL,
    room        text     NOT NULL,
    seq         bigint   NOT NULL,
    body        bytea    NOT NULL,
    state       text     NOT NULL,   -- pending, delivered, failed
    attempts    jsonb    NOT NULL DEFAULT '[]',
    next_at_ms  bigint   NOT NULL,
    created_ms  bigint   NOT NULL,
    UNIQUE (webhook_id, room, seq, event)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_at_ms) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, created_ms);
