-- A card payment the PSP captured for a wallet that can no longer receive money
-- (its user unsubscribed, the wallet unsubscribed, or its compliance status
-- forbids money since the payment started) is UNAPPLIED: nothing is minted, the
-- movement is ERROR with the reason, and the operator refunds it at the PSP.
ALTER TABLE card_payments DROP CONSTRAINT IF EXISTS card_payments_status_check;
ALTER TABLE card_payments
    ADD CONSTRAINT card_payments_status_check CHECK (status IN ('PENDING', 'PROCESSING', 'PAID', 'REJECTED', 'UNAPPLIED'));
CREATE INDEX card_payments_unapplied ON card_payments (updated_at) WHERE status = 'UNAPPLIED';
