import type { FastifyReply } from 'fastify'
import type { WaitOutcome, Waiters } from './waiters.js'

/**
 * An AbortSignal that fires when the client hangs up before its answer was sent: an HTTP client closing its
 * connection, or the socket that a request frame came through closing (its request is aborted then).
 */
export function hangUpSignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const request = reply.request.raw
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) controller.abort() })
  request.once('close', () => { if (request.errored !== null && request.errored !== undefined) controller.abort() })
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
