import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely'
import pg from 'pg'
import type { Db } from './connect.js'

const migrationFolder = fileURLToPath(new URL('../../migrations', import.meta.url))

/** Creates the database named in the URL when it does not exist yet, so nobody has to run createdb. */
export async function ensureDatabase (databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.slice(1))
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name])
    if (found.rowCount !== 0) return false
    await client.query(`create database "${name.replaceAll('"', '""')}"`)
    return true
  } catch (error) {
    // Two processes starting at once: the other one created it first.
    if ((error as { code?: string }).code === '42P04') return false
    throw error
  } finally {
    await client.end()
  }
}

/**
 * The migrations, each in a transaction of its own unless its module exports `transactional = false` (one that
 * builds an index concurrently, which Postgres refuses inside a transaction). Kysely's own switch is all or nothing.
 */
export function migrationProvider (): MigrationProvider {
  const files = new FileMigrationProvider({ fs, path, migrationFolder })
  const inTransaction = (step: (db: Kysely<any>) => Promise<void>) =>
    async (db: Kysely<any>) => { await db.transaction().execute(step) }
  return {
    async getMigrations () {
      const migrations = await files.getMigrations()
      return Object.fromEntries(Object.entries(migrations).map(([name, migration]) => {
        if ((migration as { transactional?: boolean }).transactional === false) return [name, migration]
        const wrapped: Migration = { up: inTransaction(migration.up) }
        if (migration.down !== undefined) wrapped.down = inTransaction(migration.down)
        return [name, wrapped]
      }))
    }
  }
}

/** A migrator over Pigeon's migrations: one connection, holding the migration lock, each migration as it asks. */
export function createMigrator (db: Db): Migrator {
  return new Migrator({ db, provider: migrationProvider(), disableTransactions: true })
}

export async function migrateToLatest (db: Db, options: { searchLanguage?: string } = {}): Promise<MigrationResultSet> {
  const outcome = await createMigrator(db).migrateToLatest()
  if (outcome.error === undefined && options.searchLanguage !== undefined) await applySearchLanguage(db, options.searchLanguage)
  return outcome
}

/**
 * Maps the `pigeon_search` text search configuration (what every message vector and search query uses) like the
 * Postgres configuration named `language` (`simple`, `english`, `french`, …), with accents folded before its
 * dictionaries. A change of language re-computes the stored vectors, 10,000 messages per transaction; the same
 * language again changes nothing.
 */
export async function applySearchLanguage (db: Db, language: string): Promise<{ changed: boolean }> {
  const current = await sql<{ language: string | null }>`
    select obj_description(oid, 'pg_ts_config') as language from pg_ts_config where cfgname = 'pigeon_search'`.execute(db)
  if (current.rows[0]?.language === language) return { changed: false }
  const { rows: mappings } = await sql<{ token: string, dictionaries: string[] }>`
    select t.alias as token, array_agg(d.dictname::text order by m.mapseqno) as dictionaries
    from pg_ts_config c
    join pg_ts_config_map m on m.mapcfg = c.oid
    join pg_ts_dict d on d.oid = m.mapdict
    join ts_token_type(c.cfgparser) t on t.tokid = m.maptokentype
    where c.cfgname = ${language} and c.cfgparser = (select oid from pg_ts_parser where prsname = 'default')
    group by t.alias`.execute(db)
  if (mappings.length === 0) {
    throw new Error(`SEARCH_LANGUAGE: "${language}" is not a text search configuration of this Postgres (see \\dF in psql)`)
  }
  const accented = new Set(['word', 'hword', 'hword_part'])
  await db.transaction().execute(async (trx) => {
    await sql`alter text search configuration pigeon_search drop mapping if exists for
      ${sql.raw((await tokenTypes(trx)).join(', '))}`.execute(trx)
    for (const { token, dictionaries } of mappings) {
      const chain = [...(accented.has(token) ? ['unaccent'] : []), ...dictionaries].map((name) => sql.id(name))
      await sql`alter text search configuration pigeon_search add mapping for ${sql.raw(token)} with ${sql.join(chain)}`.execute(trx)
    }
    await sql.raw(`comment on text search configuration pigeon_search is '${language.replaceAll("'", "''")}'`).execute(trx)
  })
  // Any update re-computes a generated column: each message's vector is made again under the new mapping.
  const { rows: [bounds] } = await sql<{ low: number | null, high: number | null }>`select min(id) as low, max(id) as high from messages`.execute(db)
  for (let from = bounds?.low ?? 1; from <= (bounds?.high ?? 0); from += 10_000) {
    await sql`update messages set text = text where id >= ${from} and id < ${from + 10_000} and text is not null`.execute(db)
  }
  return { changed: true }
}

async function tokenTypes (db: Db): Promise<string[]> {
  const { rows } = await sql<{ alias: string }>`select alias from ts_token_type('default')`.execute(db)
  return rows.map((row) => row.alias)
}
