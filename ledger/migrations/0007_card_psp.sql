-- Card cash-ins through a PSP (Ogone / Worldline e-Commerce protocol): the order's
-- ORDERID is card_payments.token (the CARD_CASHIN movement's id, 32 hex digits);
-- only a verified feedback of the PSP mints. PROCESSING: the PSP has not decided
-- yet (STATUS 51, 52, 91, 92).
ALTER TABLE card_payments DROP CONSTRAINT IF EXISTS card_payments_status_check;
ALTER TABLE card_payments
    ADD CONSTRAINT card_payments_status_check CHECK (status IN ('PENDING', 'PROCESSING', 'PAID', 'REJECTED')),
    ADD COLUMN psp        TEXT NOT NULL DEFAULT 'simulator',
    ADD COLUMN currency   TEXT,
    -- the PAYID of the payment that minted (the first one)
    ADD COLUMN pay_id     TEXT,
    -- the PSP's last STATUS code applied, and the decline reason
    ADD COLUMN psp_status INTEGER,
    ADD COLUMN psp_error  TEXT;

-- Every feedback the PSP (or anyone) sent, verified or not, for the operator.
CREATE TABLE psp_feedback (
    id           UUID        PRIMARY KEY,
    -- NOTIFICATION (server to server) or RETURN (the customer's redirect)
    channel      TEXT        NOT NULL,
    order_id     TEXT,
    pay_id       TEXT,
    status       INTEGER,
    verified     BOOLEAN     NOT NULL,
    outcome      TEXT        NOT NULL,
    params       JSONB       NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX psp_feedback_order ON psp_feedback (order_id, received_at);
