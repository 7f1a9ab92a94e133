import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { createLaggingReads, type LaggingReads } from '../../../core/db/replica.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The reads that may lag, on the read replica when there is one (core/db/replica.ts); every other read uses `db`. */
    laggingReads: LaggingReads
  }
}

export default fp(async (fastify) => {
  const { config } = fastify
  const reads = new Counter({
    name: 'pigeon_lagging_reads_total',
    help: 'Reads that may lag, by where they ran: the read replica, or the primary (no replica, replica away or behind)',
    labelNames: ['target'],
    registers: [fastify.metrics.registry]
  })
  const laggingReads = createLaggingReads(fastify.db, {
    replicaUrl: config.DATABASE_REPLICA_URL,
    retrySeconds: config.DATABASE_REPLICA_RETRY_SECONDS,
    log: fastify.log,
    onRead: (target) => reads.inc({ target })
  })
  fastify.decorate('laggingReads', laggingReads)
  fastify.addHook('onClose', async () => { await laggingReads.close() })
}, { name: 'lagging-reads', dependencies: ['services', 'metrics'] })
