import { ponder } from "ponder:registry";
import { balance, hold, movement } from "ponder:schema";
import { zeroAddress } from "viem";

// Same semantics as the Rust indexer's `indexer/src/apply.rs`, reduced to the benchmark's
// three tables: movements, balances (gross and held) and holds.

type MovementType =
  | "TRANSFER_OUT"
  | "TRANSFER_IN"
  | "BANK_ACCOUNT_CASHIN"
  | "BANK_ACCOUNT_CASHOUT"
  | "LOCK"
  | "RELEASE";

type Position = {
  log: { logIndex: number };
  transaction: { hash: `0x${string}` };
  block: { number: bigint; timestamp: bigint };
};

const movementRow = (event: Position, type: MovementType, owner: `0x${string}`, amount: bigint) => ({
  id: `${event.transaction.hash}-${event.log.logIndex}-${type}`,
  type,
  owner,
  amount,
  txHash: event.transaction.hash,
  logIndex: event.log.logIndex,
  blockNumber: event.block.number,
  timestamp: event.block.timestamp,
});

/** Chain status codes of IHoldable.HoldStatusCode → the read model's status names. */
const HOLD_STATUS: Record<number, string> = {
  1: "CREATED",
  2: "EXECUTED",
  3: "EXECUTED_AND_KEPT_OPEN",
  4: "RELEASED_BY_NOTARY",
  5: "RELEASED_BY_PAYEE",
  6: "RELEASED_ON_EXPIRATION",
};

ponder.on("EmToken:Transfer", async ({ event, context }) => {
  const { from, to, value } = event.args;

  if (from !== zeroAddress) {
    await context.db
      .insert(balance)
      .values({ address: from, gross: -value, held: 0n })
      .onConflictDoUpdate((row) => ({ gross: row.gross - value }));
  }
  if (to !== zeroAddress) {
    await context.db
      .insert(balance)
      .values({ address: to, gross: value, held: 0n })
      .onConflictDoUpdate((row) => ({ gross: row.gross + value }));
  }

  if (from === zeroAddress && to !== zeroAddress) {
    await context.db.insert(movement).values(movementRow(event, "BANK_ACCOUNT_CASHIN", to, value));
  } else if (to === zeroAddress && from !== zeroAddress) {
    await context.db.insert(movement).values(movementRow(event, "BANK_ACCOUNT_CASHOUT", from, value));
  } else if (from !== zeroAddress) {
    await context.db
      .insert(movement)
      .values([
        movementRow(event, "TRANSFER_OUT", from, value),
        movementRow(event, "TRANSFER_IN", to, value),
      ]);
  }
});

ponder.on("EmToken:HoldCreated", async ({ event, context }) => {
  const { operationId, from, to, notary, value } = event.args;

  await context.db.insert(hold).values({
    id: operationId,
    payer: from,
    payee: to,
    notary,
    heldValue: value,
    executedValue: 0n,
    remaining: value,
    status: "CREATED",
  });
  await context.db
    .insert(balance)
    .values({ address: from, gross: 0n, held: value })
    .onConflictDoUpdate((row) => ({ held: row.held + value }));
  await context.db.insert(movement).values(movementRow(event, "LOCK", from, value));
});

ponder.on("EmToken:HoldExecuted", async ({ event, context }) => {
  const { operationId, heldValue, transferredValue } = event.args;

  const h = await context.db.find(hold, { id: operationId });
  if (h === null) return;

  await context.db.update(hold, { id: operationId }).set({
    executedValue: h.executedValue + transferredValue,
    remaining: 0n,
    status: "EXECUTED",
  });
  await context.db.update(balance, { address: h.payer }).set((row) => ({ held: row.held - heldValue }));

  const freed = heldValue > transferredValue ? heldValue - transferredValue : 0n;
  if (freed > 0n) {
    await context.db.insert(movement).values(movementRow(event, "RELEASE", h.payer, freed));
  }
});

ponder.on("EmToken:HoldExecutedAndKeptOpen", async ({ event, context }) => {
  // heldValue is, as in the reference implementation, the value still held after this execution
  const { operationId, heldValue, transferredValue } = event.args;

  const h = await context.db.find(hold, { id: operationId });
  if (h === null) return;

  await context.db.update(hold, { id: operationId }).set({
    executedValue: h.executedValue + transferredValue,
    remaining: heldValue,
    status: "EXECUTED_AND_KEPT_OPEN",
  });
  await context.db
    .update(balance, { address: h.payer })
    .set((row) => ({ held: row.held - transferredValue }));
});

ponder.on("EmToken:HoldReleased", async ({ event, context }) => {
  const { operationId, status } = event.args;

  const h = await context.db.find(hold, { id: operationId });
  if (h === null) return;

  const freed = h.remaining;
  await context.db.update(hold, { id: operationId }).set({
    remaining: 0n,
    status: HOLD_STATUS[status] ?? "RELEASED_BY_NOTARY",
  });
  await context.db.update(balance, { address: h.payer }).set((row) => ({ held: row.held - freed }));
  await context.db.insert(movement).values(movementRow(event, "RELEASE", h.payer, freed));
});

ponder.on("EmToken:HoldRenewed", async ({ event, context }) => {
  const { operationId } = event.args;

  const h = await context.db.find(hold, { id: operationId });
  if (h === null) return;

  await context.db.update(hold, { id: operationId }).set({ status: "RENEWED" });
});

// The operation-id events carry no balance change of their own (the sibling Transfer does);
// the Rust indexer decodes and logs them, so Ponder fetches and decodes them too.
ponder.on("EmToken:Minted", async () => {});
ponder.on("EmToken:Burned", async () => {});
ponder.on("EmToken:OperatorTransfer", async () => {});
