-- Off-chain facts owned by the REST API (emledger-api) beyond 0001.

-- Idempotency records: one per (tenant, Idempotency-Key). Claimed inside the
-- transaction that creates the resource (so a concurrent duplicate waits on the
-- primary key and then replays), holding the response that was sent — business
-- refusals (4xx) included.
CREATE TABLE api_idempotency (
    client_id     UUID        NOT NULL REFERENCES clients(id),
    key           TEXT        NOT NULL,
    -- "POST /api/v1/public/wallets": a key reused on another endpoint is a different request
    endpoint      TEXT        NOT NULL,
    -- SHA-256 of the endpoint and the canonical JSON body
    request_hash  BYTEA       NOT NULL,
    status_code   SMALLINT,
    response      JSONB,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, key)
);

CREATE INDEX holds_payee ON holds (payee_dlt_address);
CREATE INDEX favourite_wallet ON favourite_external_accounts (wallet_id, created_at, id);
CREATE INDEX users_client_created ON users (client_id, created_at, id);
