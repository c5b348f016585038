-- SEPA through the platform's bank as ISO 20022 files. IN: camt.053/camt.054
-- statements and pain.002 status reports read by the platform; OUT: pain.001
-- credit-transfer initiations it writes for cash-outs. A file is recorded once
-- (by its SHA-256): importing it again changes nothing.
CREATE TABLE bank_files (
    id           UUID        PRIMARY KEY,
    -- IN or OUT
    direction    TEXT        NOT NULL,
    name         TEXT        NOT NULL,
    sha256       TEXT        NOT NULL UNIQUE,
    -- camt.053, camt.054, pain.002, pain.001
    kind         TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    -- IN: what the import did (bank::ImportReport)
    report       JSONB,
    -- OUT: the file itself, its transfers and total, and when it was written to the outbox
    content      TEXT,
    transfers    INTEGER,
    total        NUMERIC(78,0),
    exported_at  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bank_files_unexported ON bank_files (created_at) WHERE direction = 'OUT' AND exported_at IS NULL;

-- Every entry of an imported statement, once per key (the bank's account-servicer
-- reference, else end-to-end id + debtor account + amount, else entry reference).
-- APPLIED: minted to a wallet (credit) or matched to a payout (debit);
-- UNAPPLIED: kept for the operator with the reason.
CREATE TABLE bank_entries (
    id                 UUID          PRIMARY KEY,
    file_id            UUID          NOT NULL REFERENCES bank_files(id),
    entry_key          TEXT          NOT NULL UNIQUE,
    -- CRDT or DBIT
    direction          TEXT          NOT NULL,
    amount             NUMERIC       NOT NULL,
    currency           TEXT          NOT NULL,
    iban               TEXT,
    counterparty_name  TEXT,
    counterparty_iban  TEXT,
    end_to_end_id      TEXT,
    remittance         TEXT,
    booking_date       TEXT,
    status             TEXT          NOT NULL,
    reason             TEXT,
    client_id          UUID,
    wallet_id          UUID,
    movement_id        UUID,
    operation_id       UUID,
    created_at         TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX bank_entries_status ON bank_entries (status, created_at);

-- Payouts now leave as pain.001 files and settle on the bank's answer:
-- RESERVING → RESERVED (held, waiting for the next file) → SENT (in a file) →
-- PAYING (executed by the bank: burning) → PAID, or SENT → RELEASING → RELEASED
-- (rejected, with the bank's reason code), or PAID → RETURNED (returned by the
-- creditor's bank after execution: re-credited).
ALTER TABLE payouts
    ADD COLUMN end_to_end_id    TEXT UNIQUE,
    ADD COLUMN payment_file_id  UUID REFERENCES bank_files(id),
    -- the bank's last status (ACCP, ACSC, RJCT, …) and reason code
    ADD COLUMN bank_status      TEXT,
    ADD COLUMN bank_reason      TEXT,
    ADD COLUMN return_operation_id UUID;
CREATE INDEX payouts_reserved ON payouts (created_at) WHERE status = 'RESERVED';
DROP INDEX IF EXISTS payouts_open;
CREATE INDEX payouts_open ON payouts (created_at) WHERE status IN ('RESERVING', 'PAYING', 'RELEASING');
