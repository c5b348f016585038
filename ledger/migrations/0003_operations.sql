-- The operation pipeline (issue 5): every state-changing contract call the API
-- makes as the platform is first stored here, in the same transaction as the
-- request's idempotency record and its PENDING movements / hold row, and only
-- then signed and sent by the submitter (emledger-api `submitter`).
--
-- status: PENDING (stored, not signed) → SIGNED (nonce assigned, raw tx stored,
-- nothing sent yet or sending unconfirmed) → SENT (the node accepted it) →
-- MINED (receipt status 1) → SUCCESS (the indexer has applied its events);
-- FAILED (gas estimation or the mined tx reverted; `error` holds the reason).
-- An operation is signed at most once: raw_tx is what gets (re-)sent.
CREATE TABLE operations (
    id                  UUID          PRIMARY KEY,
    -- submission order
    seq                 BIGSERIAL     NOT NULL UNIQUE,
    client_id           UUID          REFERENCES clients(id),
    -- TRANSFER, HOLD_CREATE, HOLD_EXECUTE, HOLD_EXECUTE_KEEP_OPEN, HOLD_RELEASE, HOLD_RENEW,
    -- CARD_CASHIN, BANK_CASHIN, CASHOUT_RESERVE, CASHOUT_BURN, CASHOUT_RELEASE
    kind                TEXT          NOT NULL,
    status              TEXT          NOT NULL DEFAULT 'PENDING'
                        CHECK (status IN ('PENDING', 'SIGNED', 'SENT', 'MINED', 'SUCCESS', 'FAILED')),
    -- the operation id given to the contract (mint/transfer id, or the hold's id)
    chain_operation_id  TEXT          NOT NULL,
    chain_id            BIGINT        NOT NULL,
    -- the contract call
    target              TEXT          NOT NULL,
    calldata            BYTEA         NOT NULL,
    -- what the call takes out of an address's available balance (for the pre-checks)
    debit_address       TEXT,
    debit_amount        NUMERIC(78,0) NOT NULL DEFAULT 0,
    -- what it concerns
    wallet_id           UUID,
    hold_id             UUID,
    payout_id           UUID,
    -- filled by the submitter
    signer              TEXT,
    nonce               BIGINT,
    gas_limit           BIGINT,
    max_fee_per_gas     NUMERIC(78,0),
    raw_tx              BYTEA,
    tx_hash             TEXT,
    block_number        BIGINT,
    error               TEXT,
    created_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ   NOT NULL DEFAULT now(),
    signed_at           TIMESTAMPTZ,
    sent_at             TIMESTAMPTZ,
    mined_at            TIMESTAMPTZ,
    UNIQUE (signer, nonce)
);
CREATE INDEX operations_pending ON operations (seq) WHERE status = 'PENDING';
CREATE INDEX operations_in_flight ON operations (signer, nonce) WHERE status IN ('SIGNED', 'SENT');
CREATE INDEX operations_mined ON operations (seq) WHERE status = 'MINED';
CREATE INDEX operations_hold ON operations (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX operations_client ON operations (client_id, created_at);

-- The next nonce of each signer, owned by the submitter holding the signer's advisory lock.
CREATE TABLE signer_nonces (
    signer      TEXT        NOT NULL,
    chain_id    BIGINT      NOT NULL,
    next_nonce  BIGINT      NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (signer, chain_id)
);

-- Outgoing money not yet settled, per address: what the balance pre-check subtracts.
CREATE INDEX movements_pending_owner ON movements (owner_address) WHERE status = 'PENDING';

-- Simulated card payments (card cash-in): the page at /card-payments/{token}.
CREATE TABLE card_payments (
    id            UUID          PRIMARY KEY,
    token         TEXT          NOT NULL UNIQUE,
    client_id     UUID          NOT NULL REFERENCES clients(id),
    wallet_id     UUID          NOT NULL REFERENCES wallets(id),
    movement_id   UUID          NOT NULL,
    -- the mint operation created when the payment is made (its id is fixed up front)
    operation_id  UUID          NOT NULL,
    amount        NUMERIC(78,0) NOT NULL,
    success_url   TEXT          NOT NULL,
    reject_url    TEXT          NOT NULL,
    status        TEXT          NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PAID', 'REJECTED')),
    created_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ   NOT NULL DEFAULT now()
);

-- SEPA transfers received on wallet IBANs (bank side), idempotent on the bank's reference.
CREATE TABLE bank_incoming_transfers (
    id            UUID          PRIMARY KEY,
    client_id     UUID          NOT NULL REFERENCES clients(id),
    reference     TEXT          NOT NULL,
    request_hash  BYTEA         NOT NULL,
    iban          TEXT          NOT NULL,
    amount        NUMERIC(78,0),
    debtor_name   TEXT,
    -- ACCEPTED (minted to the wallet) or REFUSED (nothing minted)
    status        TEXT          NOT NULL,
    reason        TEXT,
    wallet_id     UUID,
    movement_id   UUID,
    operation_id  UUID,
    status_code   SMALLINT,
    response      JSONB,
    created_at    TIMESTAMPTZ   NOT NULL DEFAULT now(),
    UNIQUE (client_id, reference)
);

-- Cash-outs to bank accounts: funds reserved by a platform-notarized hold, burnt
-- (burnHeld) when the bank payout succeeds, released when it fails.
-- status: RESERVING → PAYING → PAID, or RESERVING → FAILED (reservation reverted),
-- or RESERVING/PAYING → RELEASING → RELEASED (payout failed, funds back).
CREATE TABLE payouts (
    id                    UUID          PRIMARY KEY,
    client_id             UUID          NOT NULL REFERENCES clients(id),
    wallet_id             UUID          NOT NULL REFERENCES wallets(id),
    hold_id               UUID          NOT NULL,
    movement_id           UUID          NOT NULL,
    iban                  TEXT          NOT NULL,
    favourite_id          UUID,
    alias                 TEXT,
    amount                NUMERIC(78,0) NOT NULL,
    concept               TEXT,
    status                TEXT          NOT NULL,
    reserve_operation_id  UUID          NOT NULL,
    settle_operation_id   UUID,
    error                 TEXT,
    created_at            TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX payouts_open ON payouts (created_at) WHERE status IN ('RESERVING', 'PAYING', 'RELEASING');
