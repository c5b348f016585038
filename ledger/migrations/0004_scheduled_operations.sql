-- Scheduled and recurring operations (issue 7): a wallet pays a receiver (another
-- wallet of the tenant, a favourite external account or an IBAN) on a calendar.
-- The worker (emledger-api `scheduler`) runs each due occurrence once through the
-- operation pipeline; the calendar rules live in `scheduler::calendar`.
CREATE TABLE scheduled_operations (
    id                UUID          PRIMARY KEY,
    client_id         UUID          NOT NULL REFERENCES clients(id),
    wallet_id         UUID          NOT NULL REFERENCES wallets(id),
    alias             TEXT          NOT NULL,
    concept           TEXT          NOT NULL,
    -- token minor units
    amount            NUMERIC(78,0) NOT NULL CHECK (amount > 0),
    receiver_type     TEXT          NOT NULL
                      CHECK (receiver_type IN ('IOCASH_WALLET', 'FAVOURITE_EXTERNAL_BANK_ACCOUNT', 'EXTERNAL_BANK_ACCOUNT')),
    -- a wallet id, a favourite id or an IBAN
    receiver_account  TEXT          NOT NULL,
    start_date        TIMESTAMPTZ   NOT NULL,
    -- IANA zone the calendar is computed in
    time_zone         TEXT          NOT NULL DEFAULT 'UTC',
    frequency         TEXT          NOT NULL CHECK (frequency IN ('ONCE', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY')),
    duration_type     TEXT          NOT NULL CHECK (duration_type IN ('ENDLESS', 'NUMBER_OF_REPETITIONS', 'END_DATE')),
    -- inclusive, a date in the schedule's zone (END_DATE)
    end_date          DATE,
    -- NUMBER_OF_REPETITIONS
    repetitions       INTEGER       CHECK (repetitions IS NULL OR repetitions > 0),
    status            TEXT          NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'COMPLETED', 'DELETED')),
    -- the next occurrence to run (0-based index into the calendar) and its instant;
    -- next_date is NULL once the schedule is COMPLETED or DELETED
    next_index        INTEGER       NOT NULL DEFAULT 0,
    next_date         TIMESTAMPTZ,
    created_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    deleted_at        TIMESTAMPTZ
);
-- the alias is unique per wallet among schedules not deleted
CREATE UNIQUE INDEX scheduled_operations_alias ON scheduled_operations (wallet_id, alias) WHERE status <> 'DELETED';
CREATE INDEX scheduled_operations_wallet ON scheduled_operations (wallet_id, created_at, id);
CREATE INDEX scheduled_operations_due ON scheduled_operations (next_date, id) WHERE status = 'ACTIVE';

-- One row per occurrence the worker ran. (scheduled_operation_id, occurrence_at) is
-- the idempotency key: an occurrence is paid at most once, whatever the number of
-- workers or restarts.
-- status: TRIGGERED (the operation is stored, its movement PENDING) → EXECUTED
-- (movement SUCCESS) or FAILED (refused when triggered — insufficient funds, wallet
-- not READY, ... — or the movement turned ERROR); `reason` says why.
CREATE TABLE scheduled_executions (
    id                      UUID        PRIMARY KEY,
    scheduled_operation_id  UUID        NOT NULL REFERENCES scheduled_operations(id),
    client_id               UUID        NOT NULL REFERENCES clients(id),
    wallet_id               UUID        NOT NULL REFERENCES wallets(id),
    occurrence_index        INTEGER     NOT NULL,
    occurrence_at           TIMESTAMPTZ NOT NULL,
    status                  TEXT        NOT NULL CHECK (status IN ('TRIGGERED', 'EXECUTED', 'FAILED')),
    error_code              TEXT,
    reason                  TEXT,
    -- the API operation, the movement shown as the execution's movement
    -- (TRANSFER_OUT or BANK_ACCOUNT_CASHOUT), and the cash-out's hold
    operation_id            UUID,
    movement_id             UUID,
    hold_id                 UUID,
    triggered_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (scheduled_operation_id, occurrence_at)
);
CREATE INDEX scheduled_executions_open ON scheduled_executions (triggered_at) WHERE status = 'TRIGGERED';
CREATE INDEX movements_scheduled ON movements (scheduled_operation_id) WHERE scheduled_operation_id IS NOT NULL;
