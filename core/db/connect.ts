import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

// Ids and sequence numbers are bigint columns; every value Pigeon stores stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export type Db = Kysely<Database>

export function createDb (databaseUrl: string, options: { max?: number, timeoutMillis?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    // A Postgres that drops packets would otherwise hold a request (or a job) for the OS's TCP timeout, minutes.
    connectionTimeoutMillis: options.timeoutMillis ?? 10_000,
    // Unbounded unless asked: a query through pgbouncer to a server that is away waits in its queue instead.
    query_timeout: options.timeoutMillis,
    keepAlive: true
  })
  // An idle connection that dies (Postgres restarts, an admin ends it) is an 'error' event on the pool, which
  // would crash the process without a listener. The pool drops that client and connects afresh on next use.
  pool.on('error', () => {})
  // A connection that dies while checked out (Postgres cut off mid-query) errors on the client itself, where the pool
  // keeps no listener: the query rejects on its own, and this keeps the process alive to retry.
  pool.on('connect', (client) => { client.on('error', () => {}) })
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

// How node-postgres reports a server it cannot reach (the socket's errno) or one that is shutting down, restarting
// or out of connection slots (SQLSTATE 57P01-57P03, 53300; class 08 is "connection exception").
const unreachableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300'])
const unreachableMessages = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect'
])

/** True when an error means Postgres cannot be reached right now, not that the query or the data is wrong. */
export function isDatabaseUnavailable (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (unreachableCodes.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  return unreachableMessages.has(error.message)
}
