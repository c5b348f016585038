-- The read model: what the chain said, mirrored by the indexer (its only writer).
--
-- Amounts are token minor units (NUMERIC(78,0), the full uint256 range);
-- the API scales them by the token's decimals. Addresses are lower-case 0x hex.

-- One row per (chain, contract) the indexer follows.
CREATE TABLE chain_cursor (
    chain_id         BIGINT      NOT NULL,
    contract         TEXT        NOT NULL,
    deploy_block     BIGINT      NOT NULL,
    block_number     BIGINT      NOT NULL,
    block_hash       TEXT        NOT NULL,
    decimals         SMALLINT    NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, contract)
);

-- Hashes of recently processed blocks, for reorg detection by parent hash.
CREATE TABLE chain_blocks (
    chain_id     BIGINT      NOT NULL,
    number       BIGINT      NOT NULL,
    hash         TEXT        NOT NULL,
    parent_hash  TEXT        NOT NULL,
    timestamp    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chain_id, number)
);

-- Every decoded EmToken log, exactly once.
CREATE TABLE chain_events (
    id           BIGSERIAL   PRIMARY KEY,
    chain_id     BIGINT      NOT NULL,
    contract     TEXT        NOT NULL,
    block_number BIGINT      NOT NULL,
    block_hash   TEXT        NOT NULL,
    block_time   TIMESTAMPTZ NOT NULL,
    tx_hash      TEXT        NOT NULL,
    log_index    BIGINT      NOT NULL,
    name         TEXT        NOT NULL,
    operation_id TEXT,
    -- JSON (not JSONB): written once per log on the hot path, read only on reorgs
    data         JSON        NOT NULL,
    UNIQUE (chain_id, tx_hash, log_index)
);
CREATE INDEX chain_events_block ON chain_events (chain_id, block_number);
CREATE INDEX chain_events_operation ON chain_events (operation_id) WHERE operation_id IS NOT NULL;

-- Per-address balances: gross (netBalanceOf), held (balanceOnHold), available (balanceOf).
CREATE TABLE balances (
    chain_id   BIGINT        NOT NULL,
    contract   TEXT          NOT NULL,
    address    TEXT          NOT NULL,
    gross      NUMERIC(78,0) NOT NULL DEFAULT 0,
    held       NUMERIC(78,0) NOT NULL DEFAULT 0,
    available  NUMERIC(78,0) GENERATED ALWAYS AS (gross - held) STORED,
    updated_block BIGINT     NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, contract, address),
    CHECK (gross >= 0), CHECK (held >= 0), CHECK (held <= gross)
);

-- Hold and clearable-transfer operator authorizations (and revocations).
CREATE TABLE operator_authorizations (
    chain_id   BIGINT  NOT NULL,
    contract   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('HOLD', 'CLEARABLE_TRANSFER')),
    operator   TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    authorized BOOLEAN NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (chain_id, contract, kind, operator, account)
);

-- Off-chain facts the API owns. Created here because the read model links to them.
CREATE TABLE clients (
    id          UUID        PRIMARY KEY,
    alias       TEXT        NOT NULL,
    dlt_network TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          UUID        PRIMARY KEY,
    client_id   UUID        NOT NULL REFERENCES clients(id),
    name        TEXT        NOT NULL,
    -- public part of the key, shown in listings; the secret is only stored hashed
    prefix      TEXT        NOT NULL UNIQUE,
    secret_hash BYTEA       NOT NULL,
    scopes      TEXT[]      NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);

CREATE TABLE users (
    id           UUID        PRIMARY KEY,
    client_id    UUID        NOT NULL REFERENCES clients(id),
    name         TEXT        NOT NULL,
    phone_number TEXT        NOT NULL,
    country      TEXT        NOT NULL,
    email        TEXT,
    external_id  TEXT,
    kyc_level    SMALLINT    NOT NULL DEFAULT 0,
    status       TEXT        NOT NULL DEFAULT 'ACTIVATED',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (client_id, external_id)
);

CREATE TABLE wallets (
    id              UUID        PRIMARY KEY,
    client_id       UUID        NOT NULL REFERENCES clients(id),
    user_id         UUID        NOT NULL REFERENCES users(id),
    -- unique across all wallets ever: an unsubscribed wallet's address is never reused
    dlt_address     TEXT        NOT NULL UNIQUE,
    iban            TEXT        UNIQUE,
    status          TEXT        NOT NULL DEFAULT 'READY',
    external_id     TEXT,
    name            TEXT,
    nickname        TEXT,
    type            TEXT        NOT NULL DEFAULT 'general_purpose',
    purpose         TEXT,
    parent_wallet_id UUID       REFERENCES wallets(id),
    currency        TEXT        NOT NULL DEFAULT 'EUR',
    metadata        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (client_id, external_id)
);
CREATE INDEX wallets_user ON wallets (user_id);
CREATE INDEX wallets_client_created ON wallets (client_id, created_at, id);

CREATE TABLE favourite_external_accounts (
    id          UUID        PRIMARY KEY,
    client_id   UUID        NOT NULL REFERENCES clients(id),
    wallet_id   UUID        NOT NULL REFERENCES wallets(id),
    alias       TEXT        NOT NULL,
    iban        TEXT        NOT NULL,
    status      TEXT        NOT NULL DEFAULT 'ACTIVE',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX favourite_alias_active ON favourite_external_accounts (wallet_id, alias) WHERE status = 'ACTIVE';

-- Movements: seed 003's fields. Chain-derived rows carry (tx_hash, log_index);
-- rows the API creates first (PENDING) carry operation_id and get their chain
-- position when the indexer settles them.
CREATE TABLE movements (
    id                     UUID          PRIMARY KEY,
    client_id              UUID          REFERENCES clients(id),
    type                   TEXT          NOT NULL,
    status                 TEXT          NOT NULL,
    amount                 NUMERIC(78,0) NOT NULL,
    concept                TEXT,
    -- whose movement this is: the wallet/address whose list shows it
    owner_address          TEXT          NOT NULL,
    owner_wallet_id        UUID          REFERENCES wallets(id),
    origin_wallet_id       UUID,
    target_wallet_id       UUID,
    origin_user_id         UUID,
    target_user_id         UUID,
    origin_dlt_address     TEXT,
    target_dlt_address     TEXT,
    wallet_id              UUID,
    user_id                UUID,
    dlt_network            TEXT          NOT NULL,
    scheduled_operation_id UUID,
    -- the API operation that created this movement (NULL for chain-originated ones)
    operation_id           UUID,
    -- the operation id the contract emits for it (hold id, mint/burn/transfer id)
    chain_operation_id     TEXT,
    hold_operation_id      TEXT,
    chain_id               BIGINT,
    tx_hash                TEXT,
    log_index              BIGINT,
    block_number           BIGINT,
    error                  TEXT,
    created_at             TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ   NOT NULL DEFAULT now()
);
-- exactly once per (log, movement type, owner)
CREATE UNIQUE INDEX movements_chain_position ON movements (chain_id, tx_hash, log_index, type, owner_address)
    WHERE tx_hash IS NOT NULL;
CREATE INDEX movements_owner_address ON movements (owner_address, created_at, id);
CREATE INDEX movements_operation ON movements (operation_id) WHERE operation_id IS NOT NULL;
CREATE INDEX movements_pending ON movements (chain_operation_id) WHERE status = 'PENDING';
CREATE INDEX movements_block ON movements (chain_id, block_number) WHERE block_number IS NOT NULL;

-- Holds (EIP-1996), one row per on-chain operationId.
CREATE TABLE holds (
    id                UUID          PRIMARY KEY,
    chain_id          BIGINT        NOT NULL,
    contract_address  TEXT          NOT NULL,
    operation_id      TEXT          NOT NULL,
    client_id         UUID,
    issuer_dlt_address TEXT,
    payer_dlt_address TEXT,
    payee_dlt_address TEXT,
    notary_dlt_address TEXT,
    payer_wallet_id   UUID,
    payee_wallet_id   UUID,
    -- value put on hold at creation, value executed so far, value still held
    held_value        NUMERIC(78,0) NOT NULL DEFAULT 0,
    executed_value    NUMERIC(78,0) NOT NULL DEFAULT 0,
    remaining_value   NUMERIC(78,0) NOT NULL DEFAULT 0,
    -- the seed's status (CREATED, EXECUTED, ..., *_REQUESTED, PENDING_DLT_*, *_FAILED)
    status            TEXT          NOT NULL,
    -- the chain's status code (0..6), NULL before the chain has it
    chain_status      SMALLINT,
    clearable         BOOLEAN       NOT NULL DEFAULT false,
    -- true when the API requested this hold (its row exists before the chain has it)
    api_created       BOOLEAN       NOT NULL DEFAULT false,
    expiration        TIMESTAMPTZ,
    dlt_network       TEXT          NOT NULL,
    concept           TEXT,
    error             TEXT,
    created_block     BIGINT,
    created_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    UNIQUE (chain_id, contract_address, operation_id)
);
CREATE INDEX holds_payer_wallet ON holds (payer_wallet_id, created_at, id);
CREATE INDEX holds_payee_wallet ON holds (payee_wallet_id, created_at, id);
CREATE INDEX holds_payer ON holds (payer_dlt_address);

-- Clearable transfers (EIP-2018).
CREATE TABLE clearable_transfers (
    chain_id         BIGINT        NOT NULL,
    contract_address TEXT          NOT NULL,
    operation_id     TEXT          NOT NULL,
    orderer          TEXT          NOT NULL,
    from_address     TEXT          NOT NULL,
    to_address       TEXT          NOT NULL,
    value            NUMERIC(78,0) NOT NULL,
    status           TEXT          NOT NULL,
    reason           TEXT,
    created_block    BIGINT        NOT NULL,
    updated_block    BIGINT        NOT NULL,
    created_at       TIMESTAMPTZ   NOT NULL,
    updated_at       TIMESTAMPTZ   NOT NULL,
    PRIMARY KEY (chain_id, contract_address, operation_id)
);
