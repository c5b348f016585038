-- Details the seeds ask of wallets and movements (issue 12), and the token fact
-- a wallet's currency is checked against.

-- Seed 002: the group (id or name) the wallet holder belongs to, at most 64 characters.
ALTER TABLE wallets ADD COLUMN group_id TEXT CHECK (char_length(group_id) BETWEEN 1 AND 64);
CREATE INDEX wallets_client_group ON wallets (client_id, group_id) WHERE group_id IS NOT NULL;

-- Seed 003: `payerName` of a BANK_ACCOUNT_CASHOUT movement, the wallet holder's
-- name when the cash-out was requested (a later rename does not rewrite history).
ALTER TABLE movements ADD COLUMN payer_name TEXT;
UPDATE movements m SET payer_name = u.name
  FROM wallets w JOIN users u ON u.id = w.user_id
 WHERE m.type = 'BANK_ACCOUNT_CASHOUT' AND m.payer_name IS NULL AND w.dlt_address = m.owner_address;

-- The token's ISO 4217 currency (EmToken.currency()), as the indexer read it from
-- the contract; NULL until it has. A wallet's currency must be this one.
ALTER TABLE chain_cursor ADD COLUMN currency TEXT;
