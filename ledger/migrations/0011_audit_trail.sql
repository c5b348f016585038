-- The audit trail: every admin action (an API key created or revoked, a wallet's
-- status changed, a clearing decision, a bank statement imported, a tenant
-- created), with the credential that did it and the request's id. Written in the
-- same transaction as the action it records; append-only: the database itself
-- refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_events (
    id          BIGSERIAL   PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- the tenant the action belongs to; NULL for platform-wide actions (operator)
    client_id   UUID        REFERENCES clients(id),
    -- who: `api_key:<keyId>`, `bearer:<keyId>`, `operator`, `cli`
    credential  TEXT        NOT NULL,
    -- the request's X-Request-Id (NULL outside a request)
    request_id  TEXT,
    action      TEXT        NOT NULL,
    object_type TEXT        NOT NULL,
    object_id   TEXT        NOT NULL,
    detail      JSONB       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_client ON audit_events (client_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
