-- Batching and per-operation retries (issue "One bad operation must never stop money moving").

-- Every transaction the submitter signed, one per nonce of its signer. A batch
-- (EmToken.batch) carries many operations; a lone call carries one.
CREATE TABLE chain_transactions (
    id               BIGSERIAL     PRIMARY KEY,
    chain_id         BIGINT        NOT NULL,
    signer           TEXT          NOT NULL,
    nonce            BIGINT        NOT NULL,
    -- SIGNED (stored, maybe not sent), SENT, MINED (status 1), REVERTED (status 0),
    -- DROPPED (its nonce was used by another transaction)
    status           TEXT          NOT NULL DEFAULT 'SIGNED'
                     CHECK (status IN ('SIGNED', 'SENT', 'MINED', 'REVERTED', 'DROPPED')),
    operations       INT           NOT NULL,
    batched          BOOLEAN       NOT NULL,
    gas_limit        BIGINT        NOT NULL,
    max_fee_per_gas  NUMERIC(78,0) NOT NULL,
    raw_tx           BYTEA         NOT NULL,
    tx_hash          TEXT          NOT NULL,
    block_number     BIGINT,
    created_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ,
    mined_at         TIMESTAMPTZ,
    UNIQUE (chain_id, signer, nonce)
);
CREATE INDEX chain_transactions_in_flight ON chain_transactions (signer, nonce) WHERE status IN ('SIGNED', 'SENT');

-- Operations of one batch share its nonce and hash; `batch_index` is the
-- operation's position in the batch (NULL for a lone call).
ALTER TABLE operations DROP CONSTRAINT operations_signer_nonce_key;
ALTER TABLE operations
    ADD COLUMN transaction_id  BIGINT REFERENCES chain_transactions(id),
    ADD COLUMN batch_index     INT,
    -- failures of this operation's own (not of the node) so far, and when it may be tried again
    ADD COLUMN attempts        INT NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at TIMESTAMPTZ;
CREATE INDEX operations_transaction ON operations (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX operations_unsettled ON operations (updated_at) WHERE status IN ('PENDING', 'SIGNED', 'SENT');

-- Role holders, looked up when a wallet address is registered.
CREATE INDEX chain_events_roles ON chain_events ((data->>'account')) WHERE name IN ('RoleGranted', 'RoleRevoked');
