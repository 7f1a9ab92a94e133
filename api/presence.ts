import type { RedisClient } from '../core/redis.js'
import type { Presence } from '../core/wakeups.js'
import type { UserStatus } from '../core/db/schema.js'

/** What Redis knows of a user's connections: when a reader of theirs was last held (ms), and whether a client said idle. */
export interface Seen { activeAt: number | undefined, idle: boolean }

/** How long `lastActiveAt` is kept after a user's last reader: the key expires then. */
const keptMs = 30 * 24 * 3600 * 1000

/**
 * A user is seen now: `activeAt` moves to now. After a gap longer than the window (they were offline), a client's old
 * `idle` no longer stands. Answers the `activeAt` before, so the caller knows whether the user just came online.
 */
const touchScript = `
local before = redis.call('HGET', KEYS[1], 'activeAt')
if (not before) or (tonumber(ARGV[1]) - tonumber(before) >= tonumber(ARGV[2])) then redis.call('HDEL', KEYS[1], 'idle') end
redis.call('HSET', KEYS[1], 'activeAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return before`

/** A client says idle ('1') or active ('0'): answers whether it was idle before, so the caller knows if that changed. */
const idleScript = `
local before = redis.call('HGET', KEYS[1], 'idle')
if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'idle', '1') else redis.call('HDEL', KEYS[1], 'idle') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return before`

/**
 * Presence kept in Redis: one hash per user (`<prefix>:presence:<id>`, fields `activeAt` and `idle`), every command on
 * one key, so a Redis Cluster spreads users over its shards and never sees a command across slots.
 */
export function createPresenceStore (redis: RedisClient, prefix: string) {
  const keyOf = (userId: number) => `${prefix}:presence:${userId}`
  return {
    /** Marks the user seen now; answers when they were seen before (undefined: never, or too long ago to be kept). */
    async touch (userId: number, now: number, windowMs: number): Promise<number | undefined> {
      const before = await redis.eval(touchScript, 1, keyOf(userId), String(now), String(windowMs), String(keptMs)) as string | null
      return before === null ? undefined : Number(before)
    },

    /** Records what a client said; answers whether the user was idle before. */
    async setIdle (userId: number, idle: boolean): Promise<boolean> {
      return await redis.eval(idleScript, 1, keyOf(userId), idle ? '1' : '0', String(keptMs)) !== null
    },

    /** What is known of these users, one read each (issued together: one write per shard). */
    async read (userIds: readonly number[]): Promise<Map<number, Seen>> {
      const rows = await Promise.all(userIds.map(async (userId) => await redis.hmget(keyOf(userId), 'activeAt', 'idle')))
      return new Map(userIds.map((userId, index) => {
        const [activeAt, idle] = rows[index] ?? []
        return [userId, { activeAt: activeAt == null ? undefined : Number(activeAt), idle: idle != null }]
      }))
    }
  }
}

export type PresenceStore = ReturnType<typeof createPresenceStore>

export interface PresenceView { presence: Presence, lastActiveAt: string | null }

/**
 * What others see of a user: `busy` set by hand wins; otherwise online (or idle, if a client said so) while seen within
 * the window, else offline. A stored `offline` is every account's status until its owner sets one, so it cannot tell
 * "invisible" from "never set": it counts as not set.
 */
export function presenceOf (status: UserStatus, seen: Seen | undefined, now: number, windowMs: number): PresenceView {
  const lastActiveAt = seen?.activeAt === undefined ? null : new Date(seen.activeAt).toISOString()
  if (status === 'busy') return { presence: 'busy', lastActiveAt }
  const online = seen?.activeAt !== undefined && now - seen.activeAt < windowMs
  return { presence: online ? (seen.idle ? 'idle' : 'online') : 'offline', lastActiveAt }
}

/**
 * The presence of the users this instance holds readers of. The first reader of a user here marks them seen, and so
 * does a timer every third of the window while any is held, so a user held anywhere never lapses and a crashed
 * instance's users lapse within the window. A user's coming online is noticed by whoever writes first after the gap;
 * their going offline by the instance that wrote last, one window after it, if no one wrote since.
 */
export function createPresenceTracker (options: {
  store: PresenceStore
  windowMs: number
  /** The user's presence may have changed: tell those who share a room with them. */
  changed: (userId: number) => void
  /** A Redis write or read failed (Redis away): presence is stale until it comes back. */
  failed: (error: unknown) => void
}) {
  const { store, windowMs, changed, failed } = options
  const refreshMs = windowMs / 3
  const held = new Set<number>()
  /** What this instance last wrote as each user's `activeAt`, kept until the user is found offline. */
  const written = new Map<number, number>()
  const checks = new Map<number, NodeJS.Timeout>()

  async function touch (userId: number): Promise<void> {
    const now = Date.now()
    written.set(userId, now)
    const before = await store.touch(userId, now, windowMs)
    if (before === undefined || now - before >= windowMs) changed(userId)
  }

  async function checkGone (userId: number): Promise<void> {
    checks.delete(userId)
    const mine = written.get(userId)
    if (held.has(userId) || mine === undefined) return
    const seen = (await store.read([userId])).get(userId)
    // Another instance wrote since: it holds the user still, or checks for itself once it lets them go.
    if (seen?.activeAt !== mine) return
    written.delete(userId)
    changed(userId)
  }

  const timer = setInterval(() => {
    const users = [...held]
    Promise.allSettled(users.map(touch)).then((outcomes) => {
      const failure = outcomes.find((outcome) => outcome.status === 'rejected')
      if (failure !== undefined) failed(failure.reason)
    }, failed)
  }, refreshMs)
  timer.unref()

  return {
    held (userId: number): void {
      held.add(userId)
      clearTimeout(checks.get(userId))
      checks.delete(userId)
      // A long poll comes back for its next answer at once: the write a moment ago stands.
      const last = written.get(userId)
      if (last !== undefined && Date.now() - last < refreshMs) return
      touch(userId).catch(failed)
    },

    released (userId: number): void {
      held.delete(userId)
      const last = written.get(userId)
      if (last === undefined) return
      clearTimeout(checks.get(userId))
      const check = setTimeout(() => { checkGone(userId).catch(failed) }, Math.max(0, last + windowMs - Date.now()) + 50)
      check.unref()
      checks.set(userId, check)
    },

    close (): void {
      clearInterval(timer)
      for (const check of checks.values()) clearTimeout(check)
      checks.clear()
    }
  }
}
