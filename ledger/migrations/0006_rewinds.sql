-- Chain rewinds (issue "Survive the faults of its own parts"): the indexer finds
-- the transactions mined in orphaned blocks to put them and their operations
-- back to SENT.
CREATE INDEX chain_transactions_block ON chain_transactions (chain_id, block_number) WHERE block_number IS NOT NULL;
