-- Cross-ledger transfers between networks (issue "Cross-ledger transfers between
-- two networks"): the networks the platform runs on, the transfers the relayer
-- drives through their CrossLedgerLink contracts, and the movements of both sides.

-- One row per network: its chain, its EmToken and its CrossLedgerLink.
CREATE TABLE dlt_networks (
    name        TEXT        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$'),
    chain_id    BIGINT      NOT NULL UNIQUE,
    token       TEXT        NOT NULL,
    link        TEXT,
    -- the relayer looks for orders from this block on
    link_block  BIGINT      NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The network a wallet's address lives on (NULL: the tenant's own network).
ALTER TABLE wallets ADD COLUMN dlt_network TEXT;

-- The two movements of a cross-ledger transfer (TRANSFER_OUT on the origin,
-- TRANSFER_IN on the destination) name it: the indexers settle their chain
-- position and leave them PENDING; the relayer turns both SUCCESS once both
-- networks executed, or ERROR with the reason when the transfer was revoked.
ALTER TABLE movements ADD COLUMN cross_ledger_transfer_id UUID;
CREATE INDEX movements_cross_ledger ON movements (cross_ledger_transfer_id) WHERE cross_ledger_transfer_id IS NOT NULL;

-- status: the transfer as both links see it.
--   ORDERED (held on the origin) -> ACCEPTED (destination) -> ACKNOWLEDGED (origin)
--   -> TRANSFER_OUT_EXECUTED (burned on the origin) -> TRANSFER_IN_EXECUTED (minted
--   on the destination) -> COMPLETED (both movements SUCCESS);
--   ORDERED -> REVOKED_ON_DESTINATION -> REVOKED (origin hold released, movements ERROR).
CREATE TABLE cross_ledger_transfers (
    id                    UUID          PRIMARY KEY,
    operation_id          TEXT          NOT NULL,
    origin_chain_id       BIGINT        NOT NULL,
    destination_chain_id  BIGINT        NOT NULL,
    from_address          TEXT          NOT NULL,
    to_address            TEXT          NOT NULL,
    amount                NUMERIC(78,0) NOT NULL,
    currency              TEXT          NOT NULL,
    client_id             UUID,
    order_tx_hash         TEXT,
    order_block           BIGINT,
    status                TEXT          NOT NULL DEFAULT 'ORDERED'
                          CHECK (status IN ('ORDERED', 'ACCEPTED', 'ACKNOWLEDGED', 'TRANSFER_OUT_EXECUTED',
                                            'TRANSFER_IN_EXECUTED', 'COMPLETED', 'REVOKED_ON_DESTINATION', 'REVOKED')),
    -- the central checks' verdict, stored with the first step that acts on it
    decision              TEXT          CHECK (decision IN ('ACCEPT', 'REVOKE')),
    -- the hash lock's preimage, chosen before the acceptance is sent and kept
    secret                BYTEA,
    hash_lock             BYTEA,
    reason                SMALLINT,
    reason_text           TEXT,
    -- the step operation the relayer waits for (an `operations` row)
    step_operation_id     UUID,
    failures              INT           NOT NULL DEFAULT 0,
    next_attempt_at       TIMESTAMPTZ,
    error                 TEXT,
    created_at            TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ   NOT NULL DEFAULT now(),
    completed_at          TIMESTAMPTZ,
    UNIQUE (origin_chain_id, operation_id)
);
CREATE INDEX cross_ledger_transfers_open ON cross_ledger_transfers (created_at) WHERE status NOT IN ('COMPLETED', 'REVOKED');

-- How far the relayer has looked for orders on each link.
CREATE TABLE cross_ledger_cursors (
    chain_id      BIGINT      PRIMARY KEY,
    link          TEXT        NOT NULL,
    block_number  BIGINT      NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- what the indexer looks up when a burn or mint may settle one of them
CREATE INDEX movements_cross_ledger_unsettled ON movements (chain_operation_id)
    WHERE cross_ledger_transfer_id IS NOT NULL AND tx_hash IS NULL;
