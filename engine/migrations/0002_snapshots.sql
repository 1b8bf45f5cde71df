-- Snapshots of an auction's state every N events: recovery replays only what follows.
CREATE TABLE snapshots (
    stream      text    NOT NULL,
    seq         bigint  NOT NULL,
    state_hash  text    NOT NULL,
    blob        bytea   NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, seq)
);

CREATE INDEX auctions_status ON auctions (status);
