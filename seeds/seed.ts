// Seeds the demo (user_1 … user_15, rooms, messages). Safe to run again: a rerun changes nothing.
import { parseArgs } from 'node:util'
import { Presets, SingleBar } from 'cli-progress'
import { sql } from 'kysely'
import { pino } from 'pino'
import { loadConfig } from '../core/config.js'
import { createDb, type Db } from '../core/db/connect.js'
import { createFailFastRedis, readyWithin } from '../core/redis.js'
import { listRoomsForMember } from '../core/rooms.js'
import { findUserByUsername } from '../core/users.js'
import { createUsersCache } from '../core/users-cache.js'
import { seedDemo } from './seed-demo.js'
import { seedVolume } from './seed-volume.js'

const { values: args } = parseArgs({
  options: { users: { type: 'string', default: '0' }, messages: { type: 'string', default: '0' } }
})
const volume = { users: Number(args.users), messages: Number(args.messages) }
if (![volume.users, volume.messages].every((n) => Number.isSafeInteger(n) && n >= 0)) {
  console.error('usage: npm run seed -- [--users N] [--messages M]   (whole numbers)')
  process.exit(2)
}

const config = loadConfig()
const log = pino({ level: config.LOG_LEVEL, name: 'pigeon-seed' })
// Two connections: the volume seed writes on two at once.
const db = createDb(config.DATABASE_URL, { max: 2 })

try {
  const summary = await seedDemo(db)
  console.log(`seeded: ${summary.usersCreated} new users, ${summary.messagesStored} new messages`)
  if (volume.users + volume.messages > 0) {
    const bar = new SingleBar({ stream: process.stderr, format: 'volume |{bar}| {percentage}% {value}/{total} {eta_formatted} left' }, Presets.shades_classic)
    const added = await seedVolume(db, {
      ...volume,
      progress: { start: (total) => bar.start(total, 0), advance: (by) => bar.increment(by), stop: () => bar.stop() }
    })
    console.log(`volume: ${added.usersCreated} new users, ${added.messagesStored} new messages in room "volume"`)
  }
  await invalidateUsersCache()
  if (summary.messagesSkipped.length > 0) {
    console.log(`skipped (sender no longer in the room): ${summary.messagesSkipped.join(', ')}`)
  }
  console.log(`rows: ${Object.entries(await rowCounts(db)).map(([table, n]) => `${table}=${n}`).join(' ')}`)
  console.log(`user_1 unread: ${await unreadOf(db, 'user_1')}`)
  console.log('log in as user_1 … user_15 with password Passw0rd!')
} finally {
  await db.destroy()
}

/** The API caches the user list in Redis; new users must show up at once. Fails soft when Redis is down. */
async function invalidateUsersCache (): Promise<void> {
  const redis = createFailFastRedis(config, 'pigeon-seed')
  redis.on('error', (error) => log.debug({ err: error }, 'redis connection error'))
  try {
    // A fail-fast connection refuses commands until it is ready; a Redis that does not answer soon is left alone.
    if (await readyWithin(redis, 2000)) {
      await createUsersCache(redis, { prefix: config.REDIS_PREFIX, ttlSeconds: config.USERS_CACHE_TTL_SECONDS, log }).invalidate()
    } else {
      log.warn('redis is not reachable: cached user-list pages stay until they expire')
    }
  } finally {
    redis.disconnect()
  }
}

async function rowCounts (db: Db): Promise<Record<string, number>> {
  const { rows } = await sql<{ users: number, rooms: number, room_members: number, messages: number, tasks: number }>`
    select (select count(*) from users)::int as users, (select count(*) from rooms)::int as rooms,
      (select count(*) from room_members)::int as room_members, (select count(*) from messages)::int as messages,
      (select count(*) from tasks)::int as tasks`.execute(db)
  return { ...rows[0] }
}

/** "7 (general 4, engineering 3)", or "0" when every room is read: what the demo feed shows the user first. */
async function unreadOf (db: Db, username: string): Promise<string> {
  const user = await findUserByUsername(db, username)
  if (user === undefined) return 'no such user'
  const { rows } = await listRoomsForMember(db, user.id, 0, 100)
  const total = rows.reduce((sum, room) => sum + room.unread_count, 0)
  const perRoom = rows.filter((room) => room.unread_count > 0).map((room) => `${room.name ?? `direct #${room.id}`} ${room.unread_count}`)
  return perRoom.length === 0 ? String(total) : `${total} (${perRoom.join(', ')})`
}
