import { EventEmitter } from 'node:events'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram } from 'prom-client'
import { createPatientRedis } from '../../../core/redis.js'
import { memberIdsOf } from '../../../core/memberships.js'
import { publishWakeups, wakeupChannel, type Wakeup } from '../../../core/wakeups.js'
import { createWaiters, type Waiters } from '../../waiters.js'

declare module 'fastify' {
  interface FastifyInstance {
    wakeups: {
      /** Long polls waiting on a user's unseen feed (capped per user: LONG_POLLS_PER_USER). */
      feeds: Waiters<number>
      /**
       * Event streams and sockets waiting on a user's unseen feed: not capped here, since each holds at most one wait and
       * their connections are bounded per user where they open (api/push-slots.ts), so they never push each other out.
       */
      pushFeeds: Waiters<number>
      /** Feed reads (queries) by channel: what a user's held connections cost while nothing happens. */
      feedReads: Counter<'channel'>
      /** Waiters on a task's outcome. */
      tasks: Waiters<string>
      /** Wake-ups about one user, emitted under their id as a string: what push sockets send beside the feed. */
      userEvents: EventEmitter
      /** Tells every API process that the user's rooms changed, so their waiting polls re-read them (and, given the room, its members). */
      membershipChanged: (userId: number, room?: { id: number, change: 'joined' | 'left' }) => Promise<void>
      /** Tells every API process that a login ended, so the sockets it opened close. */
      familyRevoked: (userId: number, familyId: string) => Promise<void>
      /** Tells the user's sockets, on every API process, that a read watermark moved. */
      readUpdated: (userId: number, roomId: number, seq: number) => Promise<void>
    }
  }
}

/**
 * Long-poll wake-ups: one Redis subscriber per process, fanned out in memory to the waiting requests
 * of the users (or tasks) an event names. A message wakes only its room's members.
 */
export default fp(async (fastify) => {
  const { config, log, metrics } = fastify
  // Capped per user on this instance (polls are held in memory here; across instances, each holds its own cap).
  const feeds = createWaiters<number>({ maxPerKey: config.LONG_POLLS_PER_USER })
  const pushFeeds = createWaiters<number>()
  const tasks = createWaiters<string>()
  const waiting = new Gauge({
    name: 'pigeon_longpoll_waiters',
    help: 'Requests waiting in a long poll, by what they wait for',
    labelNames: ['kind'],
    registers: [metrics.registry],
    collect () {
      waiting.set({ kind: 'feed' }, feeds.size)
      waiting.set({ kind: 'push' }, pushFeeds.size)
      waiting.set({ kind: 'task' }, tasks.size)
    }
  })
  const wokenTotal = new Counter({
    name: 'pigeon_longpoll_wakeups_total',
    help: 'Waiting requests woken by a wake-up',
    labelNames: ['kind'],
    registers: [metrics.registry]
  })
  const feedReads = new Counter({
    name: 'pigeon_feed_reads_total',
    help: 'Unseen-feed reads (one query each), by channel: long-poll, event-stream or socket',
    labelNames: ['channel'],
    registers: [metrics.registry]
  })
  const wakeLatency = new Histogram({
    name: 'pigeon_longpoll_wake_latency_seconds',
    help: 'From a send being accepted to the waiting pollers of its room being woken',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry]
  })
  const channel = wakeupChannel(config.REDIS_PREFIX)
  // One listener per open socket of a user: no limit.
  const userEvents = new EventEmitter().setMaxListeners(0)

  const subscriber = createPatientRedis(config, 'pigeon-subscriber')
  subscriber.on('error', (error) => log.warn({ err: error }, 'wake-up subscriber error'))
  subscriber.on('message', (_channel: string, raw: string) => {
    let wakeup: Wakeup
    try {
      wakeup = JSON.parse(raw) as Wakeup
    } catch {
      return
    }
    if (wakeup.type === 'room-message') {
      let woken = 0
      for (const userId of wakeup.userIds) woken += feeds.wake(userId) + pushFeeds.wake(userId)
      if (woken > 0) wakeLatency.observe((Date.now() - wakeup.acceptedAt) / 1000)
      wokenTotal.inc({ kind: 'feed' }, woken)
    } else if (wakeup.type === 'membership-changed') {
      wokenTotal.inc({ kind: 'feed' }, feeds.wake(wakeup.userId) + pushFeeds.wake(wakeup.userId))
      for (const userId of wakeup.room?.memberIds ?? []) userEvents.emit(String(userId), wakeup)
    } else if (wakeup.type === 'read-updated' || wakeup.type === 'family-revoked') {
      userEvents.emit(String(wakeup.userId), wakeup)
    } else if (wakeup.type === 'task-finished') {
      wokenTotal.inc({ kind: 'task' }, tasks.wake(wakeup.taskId))
      userEvents.emit(String(wakeup.ownerId), wakeup)
    }
  })
  // Not awaited: with Redis down the API still starts; ioredis subscribes once connected, and again after reconnects.
  subscriber.subscribe(channel).catch((error: unknown) => log.warn({ err: error }, 'wake-up subscription failed'))

  fastify.decorate('wakeups', {
    feeds,
    pushFeeds,
    feedReads,
    tasks,
    userEvents,
    async membershipChanged (userId: number, room?: { id: number, change: 'joined' | 'left' }) {
      try {
        // Those who are in the room now, and the one who just left it.
        const memberIds = room === undefined ? [] : [...new Set([...await memberIdsOf(fastify.db, room.id), userId])]
        const wakeup: Wakeup = { type: 'membership-changed', userId, ...(room !== undefined && { room: { ...room, memberIds } }) }
        await publishWakeups(fastify.redis, config.REDIS_PREFIX, [wakeup])
      } catch (error) {
        log.warn({ err: error }, 'could not publish a membership change')
      }
    },
    async familyRevoked (userId: number, familyId: string) {
      await publishWakeups(fastify.redis, config.REDIS_PREFIX, [{ type: 'family-revoked', userId, familyId }])
        .catch((error: unknown) => log.warn({ err: error }, 'could not publish a revoked login'))
    },
    async readUpdated (userId: number, roomId: number, seq: number) {
      await publishWakeups(fastify.redis, config.REDIS_PREFIX, [{ type: 'read-updated', userId, roomId, seq }])
        .catch((error: unknown) => log.warn({ err: error }, 'could not publish a read update'))
    }
  })

  // Answer every waiting poll (an empty 200) before the server stops taking requests.
  fastify.addHook('preClose', async () => {
    feeds.wakeAll()
    pushFeeds.wakeAll()
    tasks.wakeAll()
  })
  fastify.addHook('onClose', async () => { subscriber.disconnect() })
}, { name: 'wakeups', dependencies: ['services', 'metrics'] })
