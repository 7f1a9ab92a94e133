import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { Database } from './schema.js'

// Ids and sequence numbers are bigint columns; every value Pigeon stores stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export type Db = Kysely<Database>

export function createDb (databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.max ?? 10 })
  // An idle connection that dies (Postgres restarts, an admin ends it) is an 'error' event on the pool, which
  // would crash the process without a listener. The pool drops that client and connects afresh on next use.
  pool.on('error', () => {})
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}
