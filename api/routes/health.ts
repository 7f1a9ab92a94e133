import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'kysely'
import { Type } from 'typebox'
import { isConnected } from '../../core/redis.js'
import { noAuth } from '../schemas/common.js'

const CheckSchema = Type.Union([Type.Literal('ok'), Type.Literal('down')])

const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health/live', {
    schema: {
      tags: ['ops'],
      operationId: 'live',
      summary: 'The process is up',
      description: 'Liveness: answers 200 whenever the process can answer at all; it checks nothing else.',
      security: noAuth,
      response: { 200: Type.Object({ status: Type.Literal('ok') }) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/health/ready', {
    schema: {
      tags: ['ops'],
      operationId: 'ready',
      summary: 'Postgres and Redis both answer',
      description: 'Readiness: 200 when Postgres and Redis both answer and sends can be accepted, 503 (saying which is down) otherwise. With Redis down, reads that need only Postgres still work, but sends are refused.',
      security: noAuth,
      response: {
        200: Type.Object({ status: Type.Literal('ok'), postgres: CheckSchema, redis: CheckSchema }),
        503: Type.Object({ status: Type.Literal('down'), postgres: CheckSchema, redis: CheckSchema })
      }
    }
  }, async (request, reply) => {
    const [postgres, redis] = await Promise.all([
      check(async () => { await sql`select 1`.execute(fastify.db) }),
      // Sends need the producers' connection up as well as a Redis that answers.
      check(async () => { if (!isConnected(fastify.queues.connection)) throw new Error('not connected'); await fastify.redis.ping() })
    ])
    const ready = postgres === 'ok' && redis === 'ok'
    if (!ready) request.log.warn({ postgres, redis }, 'not ready')
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'down', postgres, redis })
  })
}

export default healthRoutes

async function check (probe: () => Promise<void>): Promise<'ok' | 'down'> {
  try {
    await probe()
    return 'ok'
  } catch {
    return 'down'
  }
}
