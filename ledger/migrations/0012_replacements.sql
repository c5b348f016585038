-- Stuck transactions replaced (issue "Run on real chains"): a transaction the
-- chain does not mine is signed again for the SAME nonce with the same call and
-- higher fees. Every attempt is kept; the one that is not the live attempt of its
-- nonce is REPLACED (its `replaced_by` names its successor). At most one attempt
-- of a nonce can mine; if an earlier one does, it becomes the live one again and
-- the later one REPLACED.
ALTER TABLE chain_transactions DROP CONSTRAINT chain_transactions_chain_id_signer_nonce_key;
ALTER TABLE chain_transactions DROP CONSTRAINT chain_transactions_status_check;
ALTER TABLE chain_transactions
    ADD CONSTRAINT chain_transactions_status_check
        CHECK (status IN ('SIGNED', 'SENT', 'MINED', 'REVERTED', 'DROPPED', 'REPLACED')),
    ADD COLUMN replaced_by BIGINT REFERENCES chain_transactions(id);
-- one live attempt per nonce
CREATE UNIQUE INDEX chain_transactions_live_nonce ON chain_transactions (chain_id, signer, nonce) WHERE status <> 'REPLACED';
CREATE INDEX chain_transactions_replaced ON chain_transactions (chain_id, signer, nonce) WHERE status = 'REPLACED';
