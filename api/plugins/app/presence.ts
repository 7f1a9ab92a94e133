import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { roomIdsOf } from '../../../core/memberships.js'
import type { UserStatus } from '../../../core/db/schema.js'
import { findUserById } from '../../../core/users.js'
import { HttpProblem } from '../../errors.js'
import { createPresenceStore, createPresenceTracker, presenceOf, type PresenceView } from '../../presence.js'

declare module 'fastify' {
  interface FastifyInstance {
    presence: {
      /** Each user's presence as others see it: their status as stored, and what Redis knows (nothing while it is away). */
      of: (users: ReadonlyArray<{ id: number, status: UserStatus }>) => Promise<Map<number, PresenceView>>
      /** A client says the user is idle, or active again: those who share a room with them hear it if it changed. */
      setIdle: (userId: number, idle: boolean) => Promise<void>
      /** Tells those who share a room with the user what their presence is now (after a status set by hand, say). */
      announce: (userId: number) => Promise<void>
      /** Calls `listener` whenever this process makes or notices a change of someone's presence, before it tells anyone. */
      onChange: (listener: () => void) => void
    }
  }
}

/**
 * Presence from what the servers see: every feed reader held here (long poll, event stream, socket) keeps its user
 * seen in Redis (api/presence.ts); changes go to the members of the user's rooms over the rooms' wake-up channels.
 */
export default fp(async (fastify) => {
  const { config, db, log, redis, wakeups, metrics } = fastify
  const windowMs = config.PRESENCE_WINDOW_SECONDS * 1000
  const store = createPresenceStore(redis, config.REDIS_PREFIX)
  const announced = new Counter({
    name: 'pigeon_presence_changes_total',
    help: 'Presence changes this process told the members of the user\'s rooms (one publish per room)',
    registers: [metrics.registry]
  })

  async function of (users: ReadonlyArray<{ id: number, status: UserStatus }>): Promise<Map<number, PresenceView>> {
    const seen = await store.read(users.map((user) => user.id)).catch((error: unknown) => {
      log.warn({ err: error }, 'presence could not be read: users are answered as not seen')
      return new Map()
    })
    const now = Date.now()
    return new Map(users.map((user) => [user.id, presenceOf(user.status, seen.get(user.id), now, windowMs)]))
  }

  const listeners: Array<() => void> = []

  async function announce (userId: number): Promise<void> {
    for (const listener of listeners) listener()
    const user = await findUserById(db, userId)
    if (user === undefined) return
    const [view, roomIds] = await Promise.all([of([user]).then((views) => views.get(userId)), roomIdsOf(db, userId)])
    if (view === undefined || roomIds.length === 0) return
    announced.inc()
    await wakeups.presenceChanged(userId, roomIds, view)
  }

  const tracker = createPresenceTracker({
    store,
    windowMs,
    changed: (userId) => { announce(userId).catch((error: unknown) => log.warn({ err: error }, 'could not announce a presence change')) },
    failed: (error) => log.warn({ err: error }, 'presence could not be written: Redis away?')
  })
  wakeups.watches.observeUsers(tracker)
  fastify.addHook('onClose', async () => tracker.close())

  fastify.decorate('presence', {
    of,
    async setIdle (userId: number, idle: boolean) {
      const before = await store.setIdle(userId, idle).catch((error: unknown) => {
        log.warn({ err: error }, 'presence could not be written')
        throw new HttpProblem(503, 'Presence cannot be recorded right now (Redis is away); try again shortly.', 'PRESENCE_UNAVAILABLE')
      })
      if (before !== idle) await announce(userId)
    },
    announce,
    onChange: (listener: () => void) => { listeners.push(listener) }
  })
}, { name: 'presence', dependencies: ['services', 'metrics', 'wakeups'] })
