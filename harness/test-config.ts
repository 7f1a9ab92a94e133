import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { Cluster } from 'ioredis'
import pg from 'pg'
import { loadConfig, type Config } from '../core/config.js'
import { createDb } from '../core/db/connect.js'
import { ensureDatabase, migrateToLatest } from '../core/db/migrate.js'
import { createFailFastRedis, readyWithin, type RedisLocation } from '../core/redis.js'

/** Whoever runs the deployment and removes it afterwards: a tap test, or a bench's own list of clean-ups. */
export type Teardown = { teardown: (fn: () => unknown) => void }

const baseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A test file or a bench talks from one address and registers, logs in and sends far more than a person would: the
 * limits are out of reach unless it sets its own (test/rate-limits.test.ts).
 */
const limitsOutOfReach = Object.fromEntries([
  'LOGIN_LIMIT_PER_USERNAME', 'LOGIN_LIMIT_PER_ADDRESS', 'REGISTER_LIMIT_PER_ADDRESS', 'SEND_LIMIT_BURST',
  'SEND_LIMIT_SUSTAINED', 'ROOM_LIMIT_PER_USER', 'ADMIN_AUTH_LIMIT_PER_ADDRESS', 'LONG_POLLS_PER_USER',
  'EVENT_STREAMS_PER_USER', 'SOCKETS_PER_USER', 'LOGOUT_ALL_LIMIT_PER_USER', 'PASSWORD_CHANGE_LIMIT_PER_USER'
].map((name) => [name, '1000000']))

/**
 * A config of this test file's (or bench run's) own: a fresh database (migrated) and a fresh Redis prefix, both
 * removed at teardown, so test files run in parallel without touching each other or the demo. The database is made on
 * `server` (a Postgres URL): the machine's own unless a test started one.
 */
export async function testConfig (t: Teardown, overrides: Record<string, string> = {}, server = baseUrl): Promise<Config> {
  const file = path.basename(process.argv[1] ?? 'test', '.test.ts').replace(/\W/g, '_').slice(0, 30)
  const name = `pigeon_test_${file}_${randomBytes(4).toString('hex')}`
  const url = new URL(server)
  url.pathname = `/${name}`
  const config = loadConfig({
    DATABASE_URL: url.toString(),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: name,
    JWT_SECRET: randomBytes(16).toString('hex'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...limitsOutOfReach,
    ...overrides
  })
  await ensureDatabase(config.DATABASE_URL)
  const db = createDb(config.DATABASE_URL, { max: 1 })
  const { error } = await migrateToLatest(db, { searchLanguage: config.SEARCH_LANGUAGE })
  await db.destroy()
  if (error !== undefined) throw error
  t.teardown(async () => {
    await dropDatabase(server, name)
    await deleteRedisKeys(config, name)
  })
  return config
}

async function dropDatabase (server: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: server })
  await client.connect()
  await client.query(`drop database if exists "${name}" with (force)`)
  await client.end()
}

/** Every key of the deployment: `prefix:…`, and its queues' `{prefix:queue}:…`. */
async function deleteRedisKeys (location: RedisLocation, prefix: string): Promise<void> {
  const redis = createFailFastRedis(location, 'pigeon-test-teardown')
  redis.on('error', () => {})
  try {
    // A test that stopped a Redis of its own left nothing to delete there.
    if (!await readyWithin(redis, 5000)) return
    // A cluster is scanned master by master, and each key deleted alone: keys in different slots cannot share a DEL.
    const servers = redis instanceof Cluster ? redis.nodes('master') : [redis]
    for (const server of servers) {
      for (const pattern of [`${prefix}:*`, `{${prefix}:*`]) {
        for await (const keys of server.scanStream({ match: pattern, count: 500 })) {
          const pipeline = server.pipeline()
          for (const key of keys as string[]) pipeline.unlink(key)
          await pipeline.exec()
        }
      }
    }
  } finally {
    redis.disconnect()
  }
}
