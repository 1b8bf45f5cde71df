-- The system of record: every event of every stream, hash-chained, unique on (stream, seq).
CREATE TABLE events (
    stream      text    NOT NULL,
    seq         bigint  NOT NULL CHECK (seq >= 1),
    prev_hash   text    NOT NULL,
    hash        text    NOT NULL,
    time_ms     bigint  NOT NULL,
    type        text    NOT NULL,
    payload     jsonb   NOT NULL,
    PRIMARY KEY (stream, seq)
);

-- Projection: one row per auction, updated from its events.
CREATE TABLE auctions (
    id          text    PRIMARY KEY,
    format      text    NOT NULL,
    params      jsonb   NOT NULL,
    status      text    NOT NULL,
    currency    text    NOT NULL,
    price       bigint,
    leader      text,
    seq         bigint  NOT NULL,
    created_ms  bigint  NOT NULL,
    updated_ms  bigint  NOT NULL
);
