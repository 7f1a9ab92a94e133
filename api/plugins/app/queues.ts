import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import { closeQueues, createQueues, type Queues } from '../../../core/queue.js'
import { closeRedis, createPatientRedis, readyWithin } from '../../../core/redis.js'
import { createAcknowledgements } from '../../acknowledgements.js'

declare module 'fastify' {
  interface FastifyInstance {
    queues: Queues
    /** Hands the unseen feed's acknowledgements (room → seq) to a worker, in bulk; never fails, never waits. */
    acknowledge: (userId: number, seenUpTo: ReadonlyMap<number, number>) => void
  }
}

/**
 * BullMQ producers on a connection of their own that waits for Redis, so they work whenever Redis does, in
 * any start order. Routes check `isConnected(queues.connection)` to refuse at once (503) while it is away.
 */
export default fp(async (fastify) => {
  // Jobs added in the same tick (sends that arrive together) go to Redis in one round trip. Only producers pipeline:
  // a worker's blocking commands must not share a pipeline.
  const connection = createPatientRedis(fastify.config, 'pigeon-producer', { autoPipelining: true })
  connection.on('error', (error) => fastify.log.warn({ err: error }, 'producer redis connection error'))
  // Give Redis a moment before serving; if it is down, start anyway and answer sends 503 until it is up.
  if (!await readyWithin(connection, 2000)) fastify.log.warn('redis is not reachable yet: sends answer 503 until it is')
  const queues = createQueues(connection, fastify.config.REDIS_PREFIX)
  const logError = (error: Error) => fastify.log.warn({ err: error }, 'queue error')
  queues.tasks.on('error', logError)
  queues.markSeen.on('error', logError)
  const jobs = new Gauge({
    name: 'pigeon_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'],
    registers: [fastify.metrics.registry],
    async collect () {
      for (const queue of [queues.tasks, queues.markSeen]) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed').catch(() => ({}))
        for (const [state, count] of Object.entries(counts)) jobs.set({ queue: queue.name, state }, count)
      }
    }
  })
  fastify.decorate('queues', queues)
  fastify.decorate('acknowledge', createAcknowledgements(queues, fastify.log))
  fastify.addHook('onClose', async () => {
    await closeQueues(queues)
    await closeRedis(connection)
  })
}, { name: 'queues', dependencies: ['services', 'metrics'] })
