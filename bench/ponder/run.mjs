#!/usr/bin/env node
// Runs `ponder start` on EmToken from a cold schema until every event up to EMTOKEN_END_BLOCK is
// indexed and durably committed, then prints one JSON line to stdout:
//   {"events": N, "seconds": S, "eventsPerSecond": E, "peakRssMb": M,
//    "startupSeconds": T, "visibleSeconds": V, "flushWaitSeconds": F}
// seconds: spawn -> checkpoint at the end block visible and the server's WAL flushed past it
// (Ponder sets synchronous_commit = off on its sessions, so visible is not yet on disk);
// startupSeconds: spawn -> Ponder's tables exist.
// Everything else (Ponder's own log on failure, notes) goes to stderr. Exit 0 on success, 1 on
// a timeout, a Ponder crash or a bad environment. See README.md for the environment.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

function fail(message) {
  process.stderr.write(`ponder bench: ${message}\n`);
  process.exit(1);
}

// First run on a machine: install the locked dependencies (not timed; ~20 s). npm's output goes
// to stderr so that stdout only carries the result line.
const ponderBin = join(here, "node_modules", "ponder", "dist", "esm", "bin", "ponder.js");
if (!existsSync(ponderBin) || !existsSync(join(here, "node_modules", "pg"))) {
  process.stderr.write("ponder bench: installing dependencies (npm ci)\n");
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: here, stdio: ["ignore", 2, 2] });
  if (npm.status !== 0) fail(`npm ci in ${here} failed (${npm.error?.message ?? `exit ${npm.status}`})`);
}
const { default: pg } = await import("pg");

function required(name) {
  const value = env[name];
  if (value === undefined || value === "") fail(`${name} must be set`);
  return value;
}

function int(name, fallback) {
  const value = env[name];
  if (value === undefined || value === "") {
    if (fallback === undefined) fail(`${name} must be set`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

const rpcUrl = required("PONDER_RPC_URL");
const databaseUrl = required("DATABASE_URL");
const address = required("EMTOKEN_ADDRESS");
const startBlock = int("EMTOKEN_START_BLOCK", 0);
const endBlock = int("EMTOKEN_END_BLOCK");
const schema = env.DATABASE_SCHEMA || "ponder_bench";
const timeoutSecs = int("PONDER_TIMEOUT_SECS", 600);
const pollMs = int("PONDER_BENCH_POLL_MS", 20);
const keepSyncCache = env.PONDER_KEEP_SYNC_CACHE === "1";
const verbose = env.PONDER_VERBOSE === "1";
if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) fail(`DATABASE_SCHEMA must be a plain identifier, got ${schema}`);
if (endBlock < startBlock) fail(`EMTOKEN_END_BLOCK (${endBlock}) is before EMTOKEN_START_BLOCK (${startBlock})`);

async function rpc(method, params) {
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const toHex = (n) => `0x${n.toString(16)}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---- process tree memory (VmHWM = peak resident set of each process) ----

function children() {
  const byParent = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // the command name is in parentheses and may contain spaces
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!byParent.has(ppid)) byParent.set(ppid, []);
      byParent.get(ppid).push(Number(entry));
    } catch {
      // the process exited meanwhile
    }
  }
  return byParent;
}

const peakKb = new Map(); // pid -> last VmHWM seen (kept after the process exits)
function sampleMemory(rootPid) {
  const byParent = children();
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop();
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (match) peakKb.set(pid, Math.max(peakKb.get(pid) ?? 0, Number(match[1])));
    } catch {
      // exited
    }
    for (const child of byParent.get(pid) ?? []) stack.push(child);
  }
}
const peakRssMb = () => [...peakKb.values()].reduce((a, b) => a + b, 0) / 1024;

// ---- main ----

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let ponderGroup = null; // process group of the running ponder, stopped on any unexpected error

async function main() {
  // Events to report: EXPECTED_EVENTS, or all EmToken logs in the range (as the Rust side sees them).
  let events;
  if (env.EXPECTED_EVENTS !== undefined && env.EXPECTED_EVENTS !== "") {
    events = int("EXPECTED_EVENTS");
  } else {
    const logs = await rpc("eth_getLogs", [{ address, fromBlock: toHex(startBlock), toBlock: toHex(endBlock) }]);
    events = logs.length;
  }
  const head = Number(await rpc("eth_blockNumber", []));
  if (head < endBlock) fail(`chain head ${head} is below EMTOKEN_END_BLOCK ${endBlock}`);
  if (head < endBlock + 30) {
    process.stderr.write(
      `ponder bench: note: head ${head} < EMTOKEN_END_BLOCK + 30; Ponder treats the last 30 blocks of a ` +
        `chain with id ${env.PONDER_CHAIN_ID ?? 31337} as unfinalized and indexes them block by block (live mode)\n`,
    );
  }

  // Cold start: no tables, checkpoints or cached RPC data from an earlier run.
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query("SET client_min_messages = warning");
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  if (!keepSyncCache) await db.query(`DROP SCHEMA IF EXISTS ponder_sync CASCADE`);

  const port = env.PONDER_PORT ? int("PONDER_PORT") : await freePort();
  const args = [ponderBin];
  if (env.PONDER_LOG_LEVEL) args.push("--log-level", env.PONDER_LOG_LEVEL);
  args.push("start", "--schema", schema, "--port", String(port), "--hostname", "127.0.0.1");

  const logTail = [];
  const keepLog = (chunk) => {
    if (verbose) process.stderr.write(chunk);
    for (const line of chunk.toString().split("\n")) {
      if (line === "") continue;
      logTail.push(line);
      if (logTail.length > 60) logTail.shift();
    }
  };

  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: here,
    detached: true, // own process group, so the whole tree can be stopped
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...env,
      PONDER_TELEMETRY_DISABLED: "true",
      DATABASE_SCHEMA: schema,
      NODE_ENV: env.NODE_ENV ?? "production",
      NO_COLOR: "1",
    },
  });
  ponderGroup = child.pid;
  // for the harness: the process group to stop should this runner die without stopping it
  process.stderr.write(`ponder bench: ponder pid ${child.pid} (own process group)\n`);
  child.stdout.on("data", keepLog);
  child.stderr.on("data", keepLog);
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
  });

  const stop = async () => {
    if (exited) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 100 && !exited; i++) await sleep(50);
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
  };
  let bailing = false;
  const bail = async (message) => {
    if (bailing) return; // e.g. the poll loop seeing Ponder gone after a signal stopped it
    bailing = true;
    await stop();
    await db.end().catch(() => {});
    fail(`${message}\n--- last lines of ponder's log ---\n${logTail.join("\n")}`);
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => bail(`interrupted by ${signal}`));
  }

  const deadline = started + timeoutSecs * 1000;
  // `_ponder_checkpoint.latest_checkpoint` is committed with the indexed rows; its digits
  // 27..42 are the block number (10 timestamp + 16 chain id + 16 block number + ...).
  const checkpointSql = `SELECT latest_checkpoint FROM "${schema}"._ponder_checkpoint`;
  let done = null; // checkpoint at the end block visible
  let durable = null; // ... and on disk
  let tablesAt = null; // when Ponder had built the app and created its tables
  while (done === null) {
    sampleMemory(child.pid);
    if (exited) return bail(`ponder exited early (code ${exited.code}, signal ${exited.signal})`);
    if (performance.now() > deadline) {
      return bail(`timed out after ${timeoutSecs} s (PONDER_TIMEOUT_SECS) before block ${endBlock} was indexed`);
    }
    try {
      const { rows } = await db.query(checkpointSql);
      tablesAt ??= performance.now();
      if (rows.length > 0 && rows.every((r) => Number(r.latest_checkpoint.slice(26, 42)) >= endBlock)) {
        done = performance.now();
        // the commit record is in the WAL before the checkpoint is visible: wait for its flush
        const { rows: lsn } = await db.query("SELECT pg_current_wal_insert_lsn()::text AS lsn");
        for (;;) {
          const { rows: f } = await db.query("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS flushed", [lsn[0].lsn]);
          if (f[0].flushed) break;
          await sleep(1);
        }
        durable = performance.now();
      }
    } catch (error) {
      // 42P01: the schema's tables do not exist yet
      if (error.code !== "42P01") return bail(`polling Postgres failed: ${error.message}`);
    }
    if (done === null) await sleep(pollMs);
  }

  const seconds = (durable - started) / 1000;
  const { rows } = await db.query(`SELECT count(*)::bigint AS n FROM "${schema}".movement`);
  sampleMemory(child.pid);
  await stop();
  await db.end();

  process.stderr.write(
    `ponder bench: ${rows[0].n} movement rows in ${schema}.movement; ` +
      `${((tablesAt - started) / 1000).toFixed(1)} s of start-up (until Ponder created its tables), ` +
      `${((done - tablesAt) / 1000).toFixed(1)} s of sync and indexing, ` +
      `${((durable - done) / 1000).toFixed(3)} s until the WAL was flushed past it\n`,
  );
  const round = (x, digits) => Number(x.toFixed(digits));
  process.stdout.write(
    `${JSON.stringify({
      events,
      seconds: round(seconds, 3),
      eventsPerSecond: round(events / seconds, 1),
      peakRssMb: round(peakRssMb(), 1),
      startupSeconds: round((tablesAt - started) / 1000, 3),
      visibleSeconds: round((done - started) / 1000, 3),
      flushWaitSeconds: round((durable - done) / 1000, 3),
    })}\n`,
  );
  process.exit(0);
}

main().catch((error) => {
  if (ponderGroup !== null) {
    try {
      process.kill(-ponderGroup, "SIGKILL");
    } catch {}
  }
  fail(error.stack ?? String(error));
});
