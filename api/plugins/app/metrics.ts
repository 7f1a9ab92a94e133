import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { Type } from 'typebox'
import { noAuth, problems } from '../../schemas/common.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      registry: Registry
      woken: Counter<'kind'>
      usersCache: Counter<'result'>
      wakeLatency: Histogram
    }
  }
}

/**
 * Prometheus metrics at GET /metrics: HTTP durations by route, queue depth by queue and state,
 * long-poll waiters, wake-ups and their latency, user-list cache hits and misses. A registry per app
 * (one-process mode hands the workers' metrics the same one).
 */
export default fp(async (fastify, opts: { registry?: Registry }) => {
  const registry = opts.registry ?? new Registry()
  collectDefaultMetrics({ register: registry })

  const httpDuration = new Histogram({
    name: 'pigeon_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })
  fastify.addHook('onResponse', async (request, reply) => {
    // Unmatched routes share one label, so a scan of random URLs cannot blow up the series count.
    const route = request.routeOptions.url ?? 'unmatched'
    httpDuration.observe({ method: request.method, route, status_code: reply.statusCode }, reply.elapsedTime / 1000)
  })

  // Read at scrape time: the wake-up and queue plugins register after this one.
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'pigeon_longpoll_waiters',
    help: 'Requests waiting in a long poll, by what they wait for',
    labelNames: ['kind'],
    registers: [registry],
    collect () {
      this.set({ kind: 'feed' }, fastify.wakeups.feeds.size)
      this.set({ kind: 'task' }, fastify.wakeups.tasks.size)
    }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'pigeon_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect () {
      for (const queue of [fastify.queues.tasks, fastify.queues.markSeen]) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed').catch(() => ({}))
        for (const [state, count] of Object.entries(counts)) this.set({ queue: queue.name, state }, count)
      }
    }
  })
  fastify.decorate('metrics', {
    registry,
    woken: new Counter({
      name: 'pigeon_longpoll_wakeups_total',
      help: 'Waiting requests woken by a wake-up',
      labelNames: ['kind'],
      registers: [registry]
    }),
    usersCache: new Counter({
      name: 'pigeon_users_cache_requests_total',
      help: 'User list pages served from the Redis cache (hit) or from Postgres (miss)',
      labelNames: ['result'],
      registers: [registry]
    }),
    wakeLatency: new Histogram({
      name: 'pigeon_longpoll_wake_latency_seconds',
      help: 'From a send being accepted to the waiting pollers of its room being woken',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry]
    })
  })

  fastify.get('/metrics', {
    schema: {
      tags: ['ops'],
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      description: 'HTTP durations by route, queue depth, long-poll waiters and wake-ups, user-list cache hits, in Prometheus\' text format. 404 on the public port when the server has an internal port (`INTERNAL_PORT`): it is served there.',
      security: noAuth,
      response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } }, ...problems(404) }
    }
  }, async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}, { name: 'metrics' })
