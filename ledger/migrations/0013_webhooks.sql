-- Webhooks (issue 14): tenants' endpoints, the event outbox and its deliveries.
--
-- Events are written by triggers on the tables whose rows they describe, so an
-- event exists exactly when its state change committed, whoever made it (the
-- indexer settling, the API accepting, a worker, a reorg rewind): none is lost,
-- none invented. Triggers are statement-level with transition tables: one
-- set-based INSERT per statement, and nothing at all (one indexed probe) for
-- tenants without an endpoint subscribed to the event type.
--
-- Event types: movement.<status>, hold.<status>, operation.<status>,
-- scheduled_execution.<status>, wallet.created, wallet.updated (status or
-- compliance status changed) — statuses lower-cased. An endpoint subscribes with
-- exact types, `<object>.*` or `*`.

CREATE TABLE webhook_endpoints (
    id                          UUID        PRIMARY KEY,
    client_id                   UUID        NOT NULL REFERENCES clients(id),
    url                         TEXT        NOT NULL,
    description                 TEXT,
    event_types                 TEXT[]      NOT NULL,
    -- HMAC-SHA256 key; shown once (at creation and at rotation), never listed
    secret                      TEXT        NOT NULL,
    -- the secret before the last rotation, still signed with until it expires
    previous_secret             TEXT,
    previous_secret_expires_at  TIMESTAMPTZ,
    -- ACTIVE, or FAILING after repeated failed attempts (deliveries go on; a success makes it ACTIVE)
    status                      TEXT        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'FAILING')),
    consecutive_failures        INTEGER     NOT NULL DEFAULT 0,
    last_success_at             TIMESTAMPTZ,
    last_failure_at             TIMESTAMPTZ,
    created_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at                  TIMESTAMPTZ
);
CREATE INDEX webhook_endpoints_client ON webhook_endpoints (client_id, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
    id           UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- commit order per object (row locks serialize an object's changes)
    seq          BIGSERIAL   NOT NULL UNIQUE,
    client_id    UUID        NOT NULL,
    type         TEXT        NOT NULL,
    object_type  TEXT        NOT NULL,
    object_id    UUID        NOT NULL,
    -- the object as it was when the event happened
    data         JSONB       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_client ON webhook_events (client_id, seq);
CREATE INDEX webhook_events_object ON webhook_events (object_id, seq);

CREATE TABLE webhook_deliveries (
    id              UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id        UUID        NOT NULL REFERENCES webhook_events(id),
    endpoint_id     UUID        NOT NULL REFERENCES webhook_endpoints(id),
    client_id       UUID        NOT NULL,
    -- copied from the event: a delivery waits for the earlier ones of its object
    event_seq       BIGINT      NOT NULL,
    object_id       UUID        NOT NULL,
    -- PENDING → SUCCEEDED, or FAILED when the retry period ran out (redeliver makes it PENDING again)
    status          TEXT        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- a worker is sending it (claims expire, so a killed worker's claim is taken over)
    claimed_until   TIMESTAMPTZ,
    last_status_code SMALLINT,
    last_error      TEXT,
    -- when the retry period of the current round started (creation or redelivery)
    round_started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_object ON webhook_deliveries (endpoint_id, object_id, event_seq) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_delivery_attempts (
    id            BIGSERIAL   PRIMARY KEY,
    delivery_id   UUID        NOT NULL REFERENCES webhook_deliveries(id),
    attempted_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms   INTEGER     NOT NULL,
    -- NULL when no HTTP answer came (connection refused, timeout, TLS)
    status_code   SMALLINT,
    error         TEXT
);
CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id, id);

-- Does an endpoint subscribed to `patterns` want an event of type `t`?
CREATE FUNCTION webhook_type_matches(patterns TEXT[], t TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM unnest(patterns) p
        WHERE p = '*' OR p = t OR (right(p, 2) = '.*' AND left(t, length(p) - 1) = left(p, length(p) - 1))
    )
$$;

-- A token amount in minor units as the API shows it ("25.00").
CREATE FUNCTION webhook_amount(minor NUMERIC) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT round(minor / power(10::numeric, d), d)::text
    FROM (SELECT COALESCE((SELECT decimals FROM chain_cursor ORDER BY chain_id, contract LIMIT 1), 2)::int AS d) x
$$;

-- Records events (client_id, type, object_type, object_id, data) in `pending`
-- for the tenants that have an endpoint wanting them, with one delivery per such endpoint.
CREATE FUNCTION webhook_emit(pending JSONB) RETURNS VOID
LANGUAGE sql AS $$
    WITH candidates AS (
        SELECT (e->>'client_id')::uuid AS client_id, e->>'type' AS type, e->>'object_type' AS object_type,
               (e->>'object_id')::uuid AS object_id, e->'data' AS data, ord
        FROM jsonb_array_elements(pending) WITH ORDINALITY AS x(e, ord)
        WHERE e->>'client_id' IS NOT NULL
    ), wanted AS (
        SELECT c.* FROM candidates c
        WHERE EXISTS (SELECT 1 FROM webhook_endpoints w
                      WHERE w.client_id = c.client_id AND w.deleted_at IS NULL AND webhook_type_matches(w.event_types, c.type))
        ORDER BY ord
    ), ev AS (
        INSERT INTO webhook_events (client_id, type, object_type, object_id, data)
        SELECT client_id, type, object_type, object_id, data FROM wanted
        RETURNING id, seq, client_id, type, object_id
    )
    INSERT INTO webhook_deliveries (event_id, endpoint_id, client_id, event_seq, object_id)
    SELECT ev.id, w.id, ev.client_id, ev.seq, ev.object_id
    FROM ev JOIN webhook_endpoints w
      ON w.client_id = ev.client_id AND w.deleted_at IS NULL AND webhook_type_matches(w.event_types, ev.type)
$$;

-- Cheap guard: is any endpoint registered at all?
CREATE FUNCTION webhook_any_endpoint() RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$ SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE deleted_at IS NULL) $$;

-- ---------------------------------------------------------------- movements
CREATE FUNCTION webhook_movement_json(m movements) RETURNS JSONB
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', m.id, 'type', m.type, 'status', m.status, 'amount', webhook_amount(m.amount), 'concept', m.concept,
        'walletId', COALESCE(m.owner_wallet_id, (SELECT id FROM wallets WHERE dlt_address = m.owner_address)),
        'ownerDltAddress', m.owner_address, 'originDltAddress', m.origin_dlt_address, 'targetDltAddress', m.target_dlt_address,
        'operationId', m.operation_id, 'scheduledOperationId', m.scheduled_operation_id, 'dltNetwork', m.dlt_network,
        'txHash', m.tx_hash, 'blockNumber', m.block_number, 'error', m.error,
        'createdAt', m.created_at, 'updatedAt', m.updated_at)
$$;

-- Rows are narrowed to tenants with a live endpoint before any JSON is built.
CREATE FUNCTION webhook_movements_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT webhook_any_endpoint() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_emit(COALESCE(jsonb_agg(jsonb_build_object(
                    'client_id', t.tenant, 'type', 'movement.' || lower(n.status), 'object_type', 'movement',
                    'object_id', n.id, 'data', webhook_movement_json(n)) ORDER BY n.id), '[]'::jsonb))
        FROM new_rows n
        CROSS JOIN LATERAL (SELECT COALESCE(n.client_id, (SELECT client_id FROM wallets WHERE dlt_address = n.owner_address)) AS tenant) t
        WHERE t.tenant IN (SELECT client_id FROM webhook_endpoints WHERE deleted_at IS NULL);
    ELSE
        PERFORM webhook_emit(COALESCE(jsonb_agg(jsonb_build_object(
                    'client_id', t.tenant, 'type', 'movement.' || lower(n.status), 'object_type', 'movement',
                    'object_id', n.id, 'data', webhook_movement_json(n)) ORDER BY n.id), '[]'::jsonb))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        CROSS JOIN LATERAL (SELECT COALESCE(n.client_id, (SELECT client_id FROM wallets WHERE dlt_address = n.owner_address)) AS tenant) t
        WHERE o.status IS DISTINCT FROM n.status
          AND t.tenant IN (SELECT client_id FROM webhook_endpoints WHERE deleted_at IS NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_movements_insert AFTER INSERT ON movements
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_movements_changed();
CREATE TRIGGER webhook_movements_update AFTER UPDATE ON movements
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_movements_changed();

-- ---------------------------------------------------------------- holds
CREATE FUNCTION webhook_hold_json(n holds) RETURNS JSONB
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', n.id, 'operationId', n.operation_id, 'status', n.status,
        'heldValue', webhook_amount(n.held_value), 'executedValue', webhook_amount(n.executed_value),
        'remainingValue', webhook_amount(n.remaining_value),
        'payerDltAddress', n.payer_dlt_address, 'payeeDltAddress', n.payee_dlt_address,
        'notaryDltAddress', n.notary_dlt_address, 'payerWalletId', n.payer_wallet_id, 'payeeWalletId', n.payee_wallet_id,
        'expiration', n.expiration, 'concept', n.concept, 'error', n.error, 'dltNetwork', n.dlt_network,
        'createdAt', n.created_at, 'updatedAt', n.updated_at)
$$;

-- A hold concerns its creator's tenant and the tenants of its payer and payee wallets.
CREATE FUNCTION webhook_hold_events(n holds) RETURNS SETOF JSONB
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('client_id', t.client_id, 'type', 'hold.' || lower(n.status), 'object_type', 'hold',
                              'object_id', n.id, 'data', webhook_hold_json(n))
    FROM (SELECT n.client_id AS client_id
          UNION SELECT client_id FROM wallets WHERE dlt_address IN (n.payer_dlt_address, n.payee_dlt_address)) t
    WHERE t.client_id IS NOT NULL
$$;

CREATE FUNCTION webhook_holds_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT webhook_any_endpoint() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_emit(COALESCE(jsonb_agg(e ORDER BY n.created_at, n.id), '[]'::jsonb))
        FROM new_rows n CROSS JOIN LATERAL webhook_hold_events(n) e;
    ELSE
        PERFORM webhook_emit(COALESCE(jsonb_agg(e ORDER BY n.updated_at, n.id), '[]'::jsonb))
        FROM new_rows n JOIN old_rows o ON o.id = n.id CROSS JOIN LATERAL webhook_hold_events(n) e
        WHERE o.status IS DISTINCT FROM n.status;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_holds_insert AFTER INSERT ON holds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_holds_changed();
CREATE TRIGGER webhook_holds_update AFTER UPDATE ON holds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_holds_changed();

-- ---------------------------------------------------------------- operations
CREATE FUNCTION webhook_operation_json(o operations) RETURNS JSONB
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', o.id, 'kind', o.kind, 'status', o.status, 'chainOperationId', o.chain_operation_id,
        'walletId', o.wallet_id, 'holdId', o.hold_id, 'txHash', o.tx_hash, 'nonce', o.nonce,
        'blockNumber', o.block_number, 'error', o.error, 'createdAt', o.created_at, 'updatedAt', o.updated_at)
$$;

CREATE FUNCTION webhook_operations_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT webhook_any_endpoint() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_emit(COALESCE(jsonb_agg(jsonb_build_object('client_id', n.client_id, 'type', 'operation.' || lower(n.status),
                    'object_type', 'operation', 'object_id', n.id, 'data', webhook_operation_json(n)) ORDER BY n.seq), '[]'::jsonb))
        FROM new_rows n
        WHERE n.client_id IN (SELECT client_id FROM webhook_endpoints WHERE deleted_at IS NULL);
    ELSE
        PERFORM webhook_emit(COALESCE(jsonb_agg(jsonb_build_object('client_id', n.client_id, 'type', 'operation.' || lower(n.status),
                    'object_type', 'operation', 'object_id', n.id, 'data', webhook_operation_json(n)) ORDER BY n.seq), '[]'::jsonb))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.status IS DISTINCT FROM n.status
          AND n.client_id IN (SELECT client_id FROM webhook_endpoints WHERE deleted_at IS NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_operations_insert AFTER INSERT ON operations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_operations_changed();
CREATE TRIGGER webhook_operations_update AFTER UPDATE ON operations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_operations_changed();

-- ---------------------------------------------------------------- scheduled executions
CREATE FUNCTION webhook_scheduled_execution_event(n scheduled_executions) RETURNS JSONB
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('client_id', n.client_id,
        'type', 'scheduled_execution.' || lower(n.status), 'object_type', 'scheduled_execution', 'object_id', n.id,
        'data', jsonb_build_object(
            'id', n.id, 'scheduledOperationId', n.scheduled_operation_id, 'walletId', n.wallet_id,
            'occurrenceIndex', n.occurrence_index, 'occurrenceAt', n.occurrence_at, 'status', n.status,
            'errorCode', n.error_code, 'reason', n.reason, 'operationId', n.operation_id, 'movementId', n.movement_id,
            'triggeredAt', n.triggered_at, 'updatedAt', n.updated_at))
$$;

CREATE FUNCTION webhook_scheduled_executions_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT webhook_any_endpoint() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_emit(COALESCE(jsonb_agg(webhook_scheduled_execution_event(n) ORDER BY n.triggered_at, n.id), '[]'::jsonb))
        FROM new_rows n;
    ELSE
        PERFORM webhook_emit(COALESCE(jsonb_agg(webhook_scheduled_execution_event(n) ORDER BY n.triggered_at, n.id), '[]'::jsonb))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.status IS DISTINCT FROM n.status;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_scheduled_executions_insert AFTER INSERT ON scheduled_executions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_scheduled_executions_changed();
CREATE TRIGGER webhook_scheduled_executions_update AFTER UPDATE ON scheduled_executions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_scheduled_executions_changed();

-- ---------------------------------------------------------------- wallets
CREATE FUNCTION webhook_wallet_event(n wallets, kind TEXT) RETURNS JSONB
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('client_id', n.client_id, 'type', kind, 'object_type', 'wallet', 'object_id', n.id,
        'data', jsonb_build_object(
            'id', n.id, 'userId', n.user_id, 'dltAddress', n.dlt_address, 'iban', n.iban, 'status', n.status,
            'complianceStatus', n.compliance_status, 'complianceReason', n.compliance_reason,
            'externalId', n.external_id, 'currency', n.currency, 'createdAt', n.created_at, 'updatedAt', n.updated_at))
$$;

CREATE FUNCTION webhook_wallets_changed() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT webhook_any_endpoint() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_emit(COALESCE(jsonb_agg(webhook_wallet_event(n, 'wallet.created') ORDER BY n.created_at, n.id), '[]'::jsonb))
        FROM new_rows n;
    ELSE
        PERFORM webhook_emit(COALESCE(jsonb_agg(webhook_wallet_event(n, 'wallet.updated') ORDER BY n.updated_at, n.id), '[]'::jsonb))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.status IS DISTINCT FROM n.status OR o.compliance_status IS DISTINCT FROM n.compliance_status;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER webhook_wallets_insert AFTER INSERT ON wallets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wallets_changed();
CREATE TRIGGER webhook_wallets_update AFTER UPDATE ON wallets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wallets_changed();
