import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram } from 'prom-client'
import { createPatientRedis } from '../../../core/redis.js'
import { channelTarget, publishWakeups, roomChannel, userChannel, type FinishedTaskJson, type Presence, type Wakeup } from '../../../core/wakeups.js'
import { createChannels } from '../../channels.js'
import { createFeedWatches, type FeedWatches } from '../../feed-watches.js'
import { createRoomReads, type RoomReads } from '../../room-reads.js'
import { createWaiters, type Waiters } from '../../waiters.js'

declare module 'fastify' {
  interface FastifyInstance {
    wakeups: {
      /**
       * Every feed reader here (long polls, capped per user: LONG_POLLS_PER_USER; event streams and sockets, bounded
       * per user where they open: api/push-slots.ts), by user and by room, and the channels they hold.
       */
      watches: FeedWatches
      /** A room's news read once for the readers a wake-up woke here (FEED_FANOUT=room), or none. */
      roomReads: RoomReads | undefined
      /** Whole-feed reads (queries) by channel, and room reads: what readers cost. */
      feedReads: Counter<'channel'>
      /** Waiters on a task's outcome; the task's owner is held (`holdUser`) while one waits. */
      tasks: Waiters<string>
      /**
       * The answer the wake-up that woke a task's waiters carried, if it carried one: there only while the woken waiters
       * resume (a waiter's query starts synchronously when it resumes); any later read goes to Postgres.
       */
      finishedTask: (taskId: string) => FinishedTaskJson | undefined
      /** Counts a request that waits (a long poll, a task wait) until its answer is sent: a shutdown lets it go out first. */
      holding: (reply: FastifyReply) => void
      /** Keeps the user's channel subscribed here (a task wait, say) until `release`. */
      holdUser: FeedWatches['holdUser']
      /** Wake-ups about one user, emitted under their id as a string: what push sockets send beside the feed. */
      userEvents: EventEmitter
      /** Tells the user's readers, on every API process, that their rooms changed (and, given the room, its members). */
      membershipChanged: (userId: number, room?: { id: number, change: 'joined' | 'left' }) => Promise<void>
      /** Tells every API process holding the user that a login ended, so the sockets it opened close. */
      familyRevoked: (userId: number, familyId: string) => Promise<void>
      /** Tells the user's sockets, on every API process, that a read watermark moved. */
      readUpdated: (userId: number, roomId: number, seq: number) => Promise<void>
      /** Tells the room's other members' sockets and streams, on every API process, that the user types (or stopped). */
      typing: (roomId: number, userId: number, typing: boolean) => Promise<void>
      /** Tells the members of these rooms (the user's), on every API process, the user's presence: each member once. */
      presenceChanged: (userId: number, roomIds: readonly number[], view: { presence: Presence, lastActiveAt: string | null }) => Promise<void>
    }
  }
}

/** How long a shutdown waits for the answers it gave waiting requests to be sent. */
const answerAtCloseMs = 5000

/** How long a user's channels stay subscribed after their last reader here goes: a long poll comes back within it. */
const lingerMs = 30_000

/**
 * Wake-ups: one sharded pub/sub subscriber per process, on the channels of the users it holds readers (or task
 * waits) of and of their rooms; what arrives is fanned out in memory to the readers it concerns.
 */
export default fp(async (fastify) => {
  const { config, log, metrics } = fastify
  const subscriber = createPatientRedis(config, 'pigeon-subscriber', { shardedSubscribers: true })
  subscriber.on('error', (error) => log.warn({ err: error }, 'wake-up subscriber error'))
  const channels = createChannels(subscriber, (error) => log.warn({ err: error }, 'wake-up subscription failed'))
  const watches = createFeedWatches({
    channels,
    roomChannel: (roomId) => roomChannel(config.REDIS_PREFIX, roomId),
    userChannel: (userId) => userChannel(config.REDIS_PREFIX, userId),
    pollsPerUser: config.LONG_POLLS_PER_USER,
    lingerMs
  })
  const tasks = createWaiters<string>()
  const finishedTasks = new Map<string, FinishedTaskJson>()
  /** Waiting requests not answered yet. */
  const unanswered = { count: 0 }
  const waiting = new Gauge({
    name: 'pigeon_longpoll_waiters',
    help: 'Feed readers (long polls: feed; event streams and sockets: push) and task waits held here',
    labelNames: ['kind'],
    registers: [metrics.registry],
    collect () {
      waiting.set({ kind: 'feed' }, watches.size.poll)
      waiting.set({ kind: 'push' }, watches.size.push)
      waiting.set({ kind: 'task' }, tasks.size)
    }
  })
  const subscribed = new Gauge({
    name: 'pigeon_wakeup_channels',
    help: 'Sharded pub/sub channels (users and rooms) this process is subscribed to',
    registers: [metrics.registry],
    collect () { subscribed.set(channels.size) }
  })
  const received = new Counter({
    name: 'pigeon_wakeups_received_total',
    help: 'Wake-ups this process received, by channel kind (room or user) and wake-up type',
    labelNames: ['channel', 'type'],
    registers: [metrics.registry]
  })
  const wokenTotal = new Counter({
    name: 'pigeon_longpoll_wakeups_total',
    help: 'Readers and task waits woken by a wake-up',
    labelNames: ['kind'],
    registers: [metrics.registry]
  })
  const feedReads = new Counter({
    name: 'pigeon_feed_reads_total',
    help: 'Unseen-feed reads (one query each), by channel: long-poll, event-stream or socket for a whole feed, room for a room read shared by the readers it woke',
    labelNames: ['channel'],
    registers: [metrics.registry]
  })
  const wakeLatency = new Histogram({
    name: 'pigeon_longpoll_wake_latency_seconds',
    help: 'From a send being accepted to the waiting readers of its room being woken',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry]
  })
  // One listener per open socket of a user: no limit.
  const userEvents = new EventEmitter().setMaxListeners(0)
  // A presence change comes once per room the user is in: a member here sharing several hears it once.
  const presenceTold = new Map<string, Set<number>>()
  const tellOnce = (change: string, userId: number): boolean => {
    let told = presenceTold.get(change)
    if (told === undefined) {
      presenceTold.set(change, told = new Set())
      setTimeout(() => presenceTold.delete(change), 10_000).unref()
    }
    if (told.has(userId)) return false
    told.add(userId)
    return true
  }
  const roomReadCount = feedReads.labels('room')
  const roomReads = config.FEED_FANOUT === 'room' ? createRoomReads(fastify.db, () => roomReadCount.inc()) : undefined

  subscriber.on('smessage', (channel: string, raw: string) => {
    const target = channelTarget(config.REDIS_PREFIX, channel)
    let wakeup: Wakeup
    try {
      wakeup = JSON.parse(raw) as Wakeup
    } catch {
      return
    }
    if (target === undefined) return
    received.inc({ channel: target.kind, type: wakeup.type })
    if (target.kind === 'room') {
      if (wakeup.type === 'room-message') {
        const woken = watches.wakeRoom(wakeup.roomId)
        if (woken > 0) wakeLatency.observe((Date.now() - wakeup.acceptedAt) / 1000)
        wokenTotal.inc({ kind: 'feed' }, woken)
      } else if (wakeup.type === 'membership-changed' || wakeup.type === 'typing') {
        // The room's other members here: the one who joined or left hears it on their own channel; a typist needs no echo.
        for (const userId of watches.usersIn(target.id)) if (userId !== wakeup.userId) userEvents.emit(String(userId), wakeup)
      } else if (wakeup.type === 'presence-changed') {
        const change = `${wakeup.userId}:${wakeup.at}`
        for (const userId of watches.usersIn(target.id)) if (userId !== wakeup.userId && tellOnce(change, userId)) userEvents.emit(String(userId), wakeup)
      }
      return
    }
    if (wakeup.type === 'membership-changed') wokenTotal.inc({ kind: 'feed' }, watches.wakeUser(wakeup.userId))
    if (wakeup.type === 'task-finished') {
      const { taskId, answer } = wakeup
      if (answer !== undefined) finishedTasks.set(taskId, answer)
      wokenTotal.inc({ kind: 'task' }, tasks.wake(taskId))
      // The woken waiters resume in the microtasks after this event, before any immediate.
      if (answer !== undefined) setImmediate(() => { if (finishedTasks.get(taskId) === answer) finishedTasks.delete(taskId) })
    }
    userEvents.emit(String(target.id), wakeup)
  })

  const publish = async (wakeup: Wakeup, what: string) => {
    await publishWakeups(fastify.redis, config.REDIS_PREFIX, [wakeup])
      .catch((error: unknown) => log.warn({ err: error }, `could not publish ${what}`))
  }

  fastify.decorate('wakeups', {
    watches,
    roomReads,
    holding (reply: FastifyReply) {
      unanswered.count++
      reply.raw.once('close', () => { unanswered.count-- })
    },
    feedReads,
    tasks,
    finishedTask: (taskId: string) => finishedTasks.get(taskId),
    holdUser: watches.holdUser,
    userEvents,
    async membershipChanged (userId: number, room?: { id: number, change: 'joined' | 'left' }) {
      await publish({ type: 'membership-changed', userId, ...(room !== undefined && { room }) }, 'a membership change')
    },
    async familyRevoked (userId: number, familyId: string) {
      await publish({ type: 'family-revoked', userId, familyId }, 'a revoked login')
    },
    async readUpdated (userId: number, roomId: number, seq: number) {
      await publish({ type: 'read-updated', userId, roomId, seq }, 'a read update')
    },
    async typing (roomId: number, userId: number, typing: boolean) {
      await publish({ type: 'typing', roomId, userId, typing }, 'a typing notice')
    },
    async presenceChanged (userId, roomIds, view) {
      const at = Date.now()
      await publishWakeups(fastify.redis, config.REDIS_PREFIX, roomIds.map((roomId) => ({ type: 'presence-changed', roomId, userId, ...view, at })))
        .catch((error: unknown) => log.warn({ err: error }, 'could not publish a presence change'))
    }
  })

  // Answer every waiting poll (an empty 200) before the server stops taking requests, and let the answers go out: a
  // keep-alive connection that becomes idle after the server closed its idle ones would hold the close until it timed out.
  fastify.addHook('preClose', async () => {
    watches.endAll()
    tasks.wakeAll()
    const deadline = Date.now() + answerAtCloseMs
    while (unanswered.count > 0 && Date.now() < deadline) await sleep(5)
  })
  fastify.addHook('onClose', async () => { subscriber.disconnect() })
}, { name: 'wakeups', dependencies: ['services', 'metrics'] })
