import fp from 'fastify-plugin'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import { Type } from 'typebox'
import { noAuth, problems } from '../../schemas/common.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      /** Where every plugin and route registers its own metrics. */
      registry: Registry
    }
  }
}

/**
 * Prometheus metrics at GET /metrics. This plugin holds the registry and measures HTTP durations by route; every other
 * plugin or route registers its own metrics on the registry, beside what they measure. A registry per app (one-process
 * mode hands the workers' metrics the same one).
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
  fastify.decorate('metrics', { registry })

  fastify.get('/metrics', {
    config: { internal: true },
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
