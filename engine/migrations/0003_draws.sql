-- Draws: what a draw's events reference but do not carry.
-- The exact bytes of every entries upload, by their SHA-256 (the draw's entries_imported
-- event carries the hash; the commitment pins it). Written before the event.
CREATE TABLE draw_uploads (
    sha256      text    PRIMARY KEY,
    format      text    NOT NULL,
    size        bigint  NOT NULL,
    raw         bytea   NOT NULL,
    created_ms  bigint  NOT NULL
);

-- Per-draw secrets: the HMAC key of the salted leaves and the commit-reveal beacon's reveal.
-- Private until the draw says otherwise (the reveal is published in the certificate).
CREATE TABLE draw_secrets (
    draw_id     text    PRIMARY KEY,
    host_secret bytea   NOT NULL,
    reveal      bytea   NOT NULL
);

-- Each host's Ed25519 signing key (the seed): commitments, certificates and substitutions.
CREATE TABLE draw_host_keys (
    host_id     text    PRIMARY KEY,
    signing_key bytea   NOT NULL
);

-- Host API keys: only a SHA-256 of the key is kept; revoked keys stay, with the time.
CREATE TABLE api_keys (
    key_id      text    PRIMARY KEY,
    key_hash    text    NOT NULL UNIQUE,
    user_id     text    NOT NULL,
    role        text    NOT NULL,
    label       text    NOT NULL,
    created_ms  bigint  NOT NULL,
    revoked_ms  bigint
);
CREATE INDEX api_keys_user ON api_keys (user_id);
