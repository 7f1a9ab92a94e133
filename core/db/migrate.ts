import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { FileMigrationProvider, Migrator, type MigrationResultSet } from 'kysely'
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

export async function migrateToLatest (db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder })
  })
  return await migrator.migrateToLatest()
}
