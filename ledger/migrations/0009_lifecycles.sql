-- Lifecycles that finish: wallet compliance statuses (seed 000), the clearing
-- agent's decisions on clearable transfers, and what the expiry sweeper did.

-- Seed 000's wallet status, next to our own READY/UNSUBSCRIBED lifecycle status.
ALTER TABLE wallets
    ADD COLUMN compliance_status TEXT NOT NULL DEFAULT 'available'
        CHECK (compliance_status IN ('new', 'available', 'pending', 'sold', 'verification', 'verification_denied',
                                     'on_hold', 'suspicious', 'under_investigation', 'dispute_started', 'dispute_resolved',
                                     'sanctioned', 'black_listed', 'transferred', 'close_requested', 'closed')),
    ADD COLUMN compliance_reason TEXT,
    ADD COLUMN compliance_updated_at TIMESTAMPTZ;

-- Every change of a wallet's compliance status (who, when, why).
CREATE TABLE wallet_compliance_changes (
    id          UUID        PRIMARY KEY,
    wallet_id   UUID        NOT NULL REFERENCES wallets(id),
    client_id   UUID        NOT NULL,
    from_status TEXT        NOT NULL,
    to_status   TEXT        NOT NULL,
    reason      TEXT,
    -- the operation that froze or unfroze the address on chain, if any
    operation_id UUID,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX wallet_compliance_changes_wallet ON wallet_compliance_changes (wallet_id, created_at);

-- The clearing agent's decision on a clearable transfer: at most one, then the
-- operations that carry it out (process, execute or reject).
CREATE TABLE clearing_decisions (
    chain_id         BIGINT      NOT NULL,
    contract_address TEXT        NOT NULL,
    operation_id     TEXT        NOT NULL,
    -- EXECUTE or REJECT
    decision         TEXT        NOT NULL CHECK (decision IN ('EXECUTE', 'REJECT')),
    reason           TEXT,
    -- 'policy' (the automatic clearing agent) or 'operator'
    decided_by       TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, contract_address, operation_id)
);

-- Open holds with an expiration, for the expiry sweeper.
CREATE INDEX holds_open_expiring ON holds (expiration) WHERE expiration IS NOT NULL AND chain_status IN (1, 3);
-- Pending clearable transfers, for the clearing agent.
CREATE INDEX clearable_transfers_pending ON clearable_transfers (created_block) WHERE status IN ('ORDERED', 'IN_PROCESS');
