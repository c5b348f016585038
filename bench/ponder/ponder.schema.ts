import { index, onchainTable } from "ponder";

// Read-model tables equivalent to the Rust indexer's `movements`, `balances` and `holds`
// (reduced to the columns the benchmark compares).

export const movement = onchainTable(
  "movement",
  (t) => ({
    /** `${txHash}-${logIndex}-${type}` */
    id: t.text().primaryKey(),
    /** TRANSFER_OUT | TRANSFER_IN | BANK_ACCOUNT_CASHIN | BANK_ACCOUNT_CASHOUT | LOCK | RELEASE */
    type: t.text().notNull(),
    owner: t.hex().notNull(),
    amount: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.integer().notNull(),
    blockNumber: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
  }),
  (table) => ({
    ownerIdx: index().on(table.owner, table.timestamp),
    blockIdx: index().on(table.blockNumber),
  }),
);

export const balance = onchainTable("balance", (t) => ({
  address: t.hex().primaryKey(),
  /** ERC-20 balance (available + held) */
  gross: t.bigint().notNull(),
  held: t.bigint().notNull(),
}));

export const hold = onchainTable(
  "hold",
  (t) => ({
    /** The hold's operationId ("operation_id" is a column name Ponder reserves for itself). */
    id: t.text().primaryKey(),
    payer: t.hex().notNull(),
    payee: t.hex().notNull(),
    notary: t.hex().notNull(),
    heldValue: t.bigint().notNull(),
    executedValue: t.bigint().notNull(),
    remaining: t.bigint().notNull(),
    /** CREATED | EXECUTED | EXECUTED_AND_KEPT_OPEN | RELEASED_BY_NOTARY | RELEASED_BY_PAYEE | RELEASED_ON_EXPIRATION | RENEWED */
    status: t.text().notNull(),
  }),
  (table) => ({
    payerIdx: index().on(table.payer),
    payeeIdx: index().on(table.payee),
  }),
);
