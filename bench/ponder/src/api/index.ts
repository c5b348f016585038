import { Hono } from "hono";

// Ponder requires an API file. The benchmark only reads Postgres and Ponder's built-in
// /ready and /status routes, so no GraphQL or SQL endpoints are mounted (the Rust indexer
// serves none either).
const app = new Hono();

export default app;
