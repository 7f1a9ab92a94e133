import { Worker, type Job } from 'bullmq'
import { Histogram, type Registry } from 'prom-client'
import type { Config } from '../core/config.js'
import type { Db } from '../core/db/connect.js'
import type { Log } from '../core/log.js'
import { bullPrefix, queueNames, type MarkSeenPayload, type SendMessagePayload } from '../core/queue.js'
import { createPatientRedis } from '../core/redis.js'
import { recordTaskFailure, sendFailed, taskKinds } from '../core/tasks.js'
import { publishWakeup } from '../core/wakeups.js'
import { createMarkSeen } from './processors/mark-seen.js'
import { createPersistMessage, type PersistMessageResult } from './processors/persist-message.js'

export interface RunningWorkers {
  close: () => Promise<void>
}

/** Wires the processors to their queues. Any number of processes may run this against the same Redis and Postgres. */
export function startWorkers ({ config, db, log, registry }: { config: Config, db: Db, log: Log, registry?: Registry }): RunningWorkers {
  const connection = createPatientRedis(config.REDIS_URL, 'pigeon-worker')
  connection.on('error', (error) => log.warn({ err: error }, 'worker redis connection error'))
  const common = { connection, prefix: bullPrefix(config.REDIS_PREFIX), concurrency: config.WORKER_CONCURRENCY }

  const sendMessage = new Worker<SendMessagePayload, PersistMessageResult>(
    queueNames.sendMessage,
    createPersistMessage({ db, redis: connection, redisPrefix: config.REDIS_PREFIX, log }),
    common
  )
  const markSeen = new Worker<MarkSeenPayload>(queueNames.markSeen, createMarkSeen({ db, log }), common)

  // A send that ran out of attempts on a transient error (Postgres away, say) still ends as a failed task.
  sendMessage.on('failed', (job, error) => {
    if (job === undefined || job.id === undefined || job.attemptsMade < (job.opts.attempts ?? 1) || error.name === 'UnrecoverableError') return
    const failure = { id: job.id, kind: taskKinds.sendMessage, ownerId: job.data.senderId, attempts: job.attemptsMade, createdAt: new Date(job.timestamp) }
    recordTaskFailure(db, { ...failure, ...sendFailed })
      .then(() => publishWakeup(connection, config.REDIS_PREFIX, { type: 'task-finished', taskId: failure.id, ownerId: failure.ownerId }))
      .catch((recordError: unknown) => log.error({ err: recordError, taskId: job.id }, 'could not record a failed task'))
    log.error({ err: error, reqId: job.data.requestId, taskId: job.id }, 'send failed for good')
  })

  const jobDuration = new Histogram({
    name: 'pigeon_job_duration_seconds',
    help: 'From a job starting to it finishing, by queue and outcome',
    labelNames: ['queue', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: registry === undefined ? [] : [registry]
  })
  for (const worker of [sendMessage, markSeen] as Worker[]) {
    worker.on('error', (error) => log.error({ err: error, queue: worker.name }, 'worker error'))
    const observe = (outcome: string) => (job: Job | undefined) => {
      if (job?.processedOn !== undefined && job.finishedOn !== undefined) {
        jobDuration.observe({ queue: worker.name, outcome }, (job.finishedOn - job.processedOn) / 1000)
      }
    }
    worker.on('completed', observe('completed'))
    worker.on('failed', observe('failed'))
  }

  return {
    async close () {
      // Lets jobs in flight finish before the connection goes.
      await Promise.all([sendMessage.close(), markSeen.close()])
      await connection.quit()
    }
  }
}
