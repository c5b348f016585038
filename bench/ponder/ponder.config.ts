import { createConfig } from "ponder";

import { EmTokenAbi } from "./abis/EmToken";

// Everything comes from the environment so the benchmark harness can point it at any chain
// and Postgres. See README.md.
function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} must be set`);
  }
  return value;
}

function optionalInt(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a block number, got ${value}`);
  return n;
}

// Ponder 0.16 has no setting for its JSON-RPC rate limit: each RPC URL gets an adaptive limiter
// that starts at 20 requests/s and grows by 5% at most every few seconds (meant for hosted
// providers). Against a local anvil that, not Ponder's indexing, would set the pace (about 30
// blocks/s). Listing the same URL several times gives one limiter per copy and lets the
// backfill run at the node's speed. PONDER_RPC_FANOUT=1 restores the stock behaviour.
const rpcUrl = required("PONDER_RPC_URL");
const rpcFanout = Number(process.env.PONDER_RPC_FANOUT ?? "25");
if (!Number.isSafeInteger(rpcFanout) || rpcFanout < 1) {
  throw new Error(`PONDER_RPC_FANOUT must be a positive integer, got ${process.env.PONDER_RPC_FANOUT}`);
}

export default createConfig({
  // Only one chain: "multichain" (the default) avoids the cross-chain ordering work of "omnichain".
  ordering: "multichain",
  database: {
    kind: "postgres",
    connectionString: required("DATABASE_URL"),
  },
  chains: {
    anvil: {
      id: Number(process.env.PONDER_CHAIN_ID ?? "31337"),
      rpc: rpcFanout === 1 ? rpcUrl : Array.from({ length: rpcFanout }, () => rpcUrl),
      pollingInterval: Number(process.env.PONDER_POLLING_INTERVAL_MS ?? "100"),
      // Anvil answers eth_getLogs over any range; no need for Ponder to discover a limit.
      ethGetLogsBlockRange: optionalInt("PONDER_GET_LOGS_BLOCK_RANGE"),
    },
  },
  contracts: {
    EmToken: {
      chain: "anvil",
      abi: EmTokenAbi,
      address: required("EMTOKEN_ADDRESS") as `0x${string}`,
      startBlock: optionalInt("EMTOKEN_START_BLOCK") ?? 0,
      // With an end block the whole range is indexed as a backfill and /ready turns 200 when
      // it is done; without one Ponder keeps following the chain.
      endBlock: optionalInt("EMTOKEN_END_BLOCK"),
    },
  },
});
