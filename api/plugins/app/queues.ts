import fp from 'fastify-plugin'
import { closeQueues, createQueues, type Queues } from '../../../core/queue.js'

declare module 'fastify' {
  interface FastifyInstance {
    queues: Queues
  }
}

/** BullMQ producers on the API's fail-fast Redis connection: with Redis down, enqueueing errors at once (503). */
export default fp(async (fastify) => {
  const queues = createQueues(fastify.redis, fastify.config.REDIS_PREFIX)
  const logError = (error: Error) => fastify.log.warn({ err: error }, 'queue error')
  queues.sendMessage.on('error', logError)
  queues.markSeen.on('error', logError)
  fastify.decorate('queues', queues)
  fastify.addHook('onClose', async () => { await closeQueues(queues) })
}, { name: 'queues', dependencies: ['services'] })
