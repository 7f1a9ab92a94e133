import { loadConfig } from '../core/config.js'
import { createDb } from '../core/db/connect.js'
import { ensureDatabase, migrateToLatest } from '../core/db/migrate.js'

const config = loadConfig()
if (await ensureDatabase(config.DATABASE_URL)) console.log('created the database')
const db = createDb(config.DATABASE_URL, { max: 1 })
const { error, results } = await migrateToLatest(db, { searchLanguage: config.SEARCH_LANGUAGE })
for (const result of results ?? []) {
  console.log(`${result.status === 'Success' ? 'applied' : result.status}: ${result.migrationName}`)
}
await db.destroy()
if (error) {
  console.error('migration failed:', error)
  process.exit(1)
}
console.log('database is up to date')
