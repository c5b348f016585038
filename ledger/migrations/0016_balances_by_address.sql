-- A wallet's balance is looked up by its address (wallet views join
-- `balances bb ON bb.address = w.dlt_address` with the token compared
-- case-insensitively, which the primary key (chain_id, contract, address) cannot
-- serve past its first column): without this index every wallet shown scanned
-- every balance of the chain.
CREATE INDEX balances_address ON balances (address);
