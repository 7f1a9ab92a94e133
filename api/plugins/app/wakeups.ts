import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { createPatientRedis } from '../../../core/redis.js'
import { publishWakeups, wakeupChannel, type Wakeup } from '../../../core/wakeups.js'
import { createWaiters, type WaitOutcome, type Waiters } from '../../waiters.js'

declare module 'fastify' {
  interface FastifyInstance {
    wakeups: {
      /** Waiters on a user's unseen feed. */
      feeds: Waiters<number>
      /** Waiters on a task's outcome. */
      tasks: Waiters<string>
      /** Tells every API process that the user's rooms changed, so their waiting polls re-read them. */
      membershipChanged: (userId: number) => Promise<void>
    }
  }
}

/**
 * Long-poll wake-ups: one Redis subscriber per process, fanned out in memory to the waiting requests
 * of the users (or tasks) an event names. A message wakes only its room's members.
 */
export default fp(async (fastify) => {
  const { config, log, metrics } = fastify
  const feeds = createWaiters<number>()
  const tasks = createWaiters<string>()
  const channel = wakeupChannel(config.REDIS_PREFIX)

  const subscriber = createPatientRedis(config.REDIS_URL, 'pigeon-subscriber')
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
      for (const userId of wakeup.userIds) woken += feeds.wake(userId)
      if (woken > 0) metrics.wakeLatency.observe((Date.now() - wakeup.acceptedAt) / 1000)
      metrics.woken.inc({ kind: 'feed' }, woken)
    } else if (wakeup.type === 'membership-changed') {
      metrics.woken.inc({ kind: 'feed' }, feeds.wake(wakeup.userId))
    } else if (wakeup.type === 'task-finished') {
      metrics.woken.inc({ kind: 'task' }, tasks.wake(wakeup.taskId))
    }
  })
  // Not awaited: with Redis down the API still starts; ioredis subscribes once connected, and again after reconnects.
  subscriber.subscribe(channel).catch((error: unknown) => log.warn({ err: error }, 'wake-up subscription failed'))

  fastify.decorate('wakeups', {
    feeds,
    tasks,
    async membershipChanged (userId: number) {
      await publishWakeups(fastify.redis, config.REDIS_PREFIX, [{ type: 'membership-changed', userId }])
        .catch((error: unknown) => log.warn({ err: error }, 'could not publish a membership change'))
    }
  })

  // Answer every waiting poll (an empty 200) before the server stops taking requests.
  fastify.addHook('preClose', async () => {
    feeds.wakeAll()
    tasks.wakeAll()
  })
  fastify.addHook('onClose', async () => { subscriber.disconnect() })
}, { name: 'wakeups', dependencies: ['services', 'metrics'] })

/** An AbortSignal that fires when the client hangs up before its answer was sent. */
export function hangUpSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) controller.abort() })
  return controller.signal
}

/**
 * Long-poll loop: register the waiter, run the query, and wait only if it found nothing; a wake-up
 * re-runs the query. Returns the last result once it is non-empty or the time is up.
 */
export async function longPoll<K, T> (options: {
  waiters: Waiters<K>
  key: K
  seconds: number
  signal: AbortSignal
  query: () => Promise<T>
  ready: (result: T) => boolean
}): Promise<T> {
  const deadline = Date.now() + options.seconds * 1000
  for (;;) {
    const waiter = options.seconds > 0 ? options.waiters.register(options.key) : undefined
    try {
      const result = await options.query()
      const remaining = deadline - Date.now()
      if (waiter === undefined || options.ready(result) || remaining <= 0) return result
      const outcome: WaitOutcome = await waiter.wait(remaining, options.signal)
      if (outcome !== 'woken') return result
    } finally {
      waiter?.cancel()
    }
  }
}
