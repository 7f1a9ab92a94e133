import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { Histogram, type Registry } from 'prom-client'
import type { Config } from '../core/config.js'
import type { Db } from '../core/db/connect.js'
import type { Log } from '../core/log.js'
import { bullPrefix, closeQueues, createQueues, queueNames, retryBackoff, retryDelayMs, type ChangeMessagePayload, type MarkSeenPayload, type SendMessagePayload, type TaskPayload } from '../core/queue.js'
import { taskKinds } from '../core/db/schema.js'
import { closeRedis, createPatientRedis, isConnected } from '../core/redis.js'
import { createChangeMessage } from './processors/change-message.js'
import { createTaskCache } from '../core/task-cache.js'
import { createMarkSeen } from './processors/mark-seen.js'
import { createMergeReadMarks, mergeReadMarksEveryMs, mergeReadMarksJob } from './processors/merge-read-marks.js'
import { createPersistMessage, type PersistMessageResult } from './processors/persist-message.js'
import { createTaskReconciler } from './reconcile-tasks.js'

/**
 * Postgres connections a worker process needs: sends are stored in batches (one transaction per batch, whatever its
 * rooms), so far fewer than its concurrency; jobs beyond it wait for a connection rather than crowd Postgres.
 */
export function workerPoolSize (config: Config): number {
  return Math.min(config.WORKER_CONCURRENCY + 2, 20)
}

export interface RunningWorkers {
  close: () => Promise<void>
}

/** Wires the processors to their queues. Any number of processes may run this against the same Redis and Postgres. */
export function startWorkers ({ config, db, log, registry }: { config: Config, db: Db, log: Log, registry?: Registry }): RunningWorkers {
  const connection = createPatientRedis(config, 'pigeon-worker')
  connection.on('error', (error) => log.warn({ err: error }, 'worker redis connection error'))
  const common = {
    connection,
    concurrency: config.WORKER_CONCURRENCY,
    // A job whose worker died is taken up again however often that happens; the task's deadline bounds it.
    maxStalledCount: 1000,
    settings: { backoffStrategy: (attemptsMade: number, type?: string) => type === retryBackoff ? retryDelayMs(attemptsMade) : 0 }
  }

  // Producers on the workers' own connection: the reconciler re-creates jobs, a delete removes its message's jobs.
  const queues = createQueues(connection, config.REDIS_PREFIX)
  for (const queue of [queues.tasks, queues.markSeen]) queue.on('error', (error) => log.warn({ err: error, queue: queue.name }, 'worker queue error'))
  const persistMessage = createPersistMessage({ db, redis: connection, redisPrefix: config.REDIS_PREFIX, log, maxBatch: config.WORKER_CONCURRENCY })
  const taskCache = createTaskCache(connection, { prefix: config.REDIS_PREFIX, ttlSeconds: config.TASK_CACHE_TTL_SECONDS })
  const changeMessage = createChangeMessage({ db, redis: connection, redisPrefix: config.REDIS_PREFIX, log, queues, taskCache })
  // One queue for every task kind (the job's name): edits and deletes get the sends' retries, deadline and reconciler.
  const tasks = new Worker<TaskPayload, PersistMessageResult | null>(
    queueNames.tasks,
    async (job) => job.name === taskKinds.editMessage || job.name === taskKinds.deleteMessage
      ? await changeMessage(job as Job<ChangeMessagePayload>)
      : await persistMessage(job as Job<SendMessagePayload>),
    { ...common, prefix: bullPrefix(config.REDIS_PREFIX, queueNames.tasks) }
  )
  const applyAcks = createMarkSeen({ db, redis: connection, redisPrefix: config.REDIS_PREFIX, log, maxBatch: config.WORKER_CONCURRENCY })
  const mergeReadMarks = createMergeReadMarks({ db, config, log })
  const markSeen = new Worker<MarkSeenPayload>(
    queueNames.markSeen,
    async (job) => job.name === mergeReadMarksJob ? await mergeReadMarks() : await applyAcks(job),
    { ...common, prefix: bullPrefix(config.REDIS_PREFIX, queueNames.markSeen) }
  )
  // One schedule for the whole deployment, whichever worker writes it (again) first; one worker runs each turn.
  queues.markSeen.upsertJobScheduler(mergeReadMarksJob, { every: mergeReadMarksEveryMs(config) }, {
    name: mergeReadMarksJob,
    data: { acks: [] },
    opts: { attempts: 3, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } }
  }).catch((error: unknown) => log.warn({ err: error }, 'could not schedule the merge of read marks'))
  const reconciler = createTaskReconciler({ config, db, redis: connection, log, queues, taskCache })

  const jobDuration = new Histogram({
    name: 'pigeon_job_duration_seconds',
    help: 'From a job starting to it finishing, by queue and outcome',
    labelNames: ['queue', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: registry === undefined ? [] : [registry]
  })
  for (const worker of [tasks, markSeen] as Worker[]) {
    worker.on('error', (error) => log.error({ err: error, queue: worker.name }, 'worker error'))
    const observe = (outcome: string) => (job: Job | undefined) => {
      if (job?.processedOn !== undefined && job.finishedOn !== undefined) {
        jobDuration.observe({ queue: worker.name, outcome }, (job.finishedOn - job.processedOn) / 1000)
      }
    }
    worker.on('completed', observe('completed'))
    worker.on('failed', observe('failed'))
  }
  tasks.on('failed', (job, error) => {
    if (job !== undefined && !(error instanceof UnrecoverableError)) {
      log.warn({ err: error, taskId: job.id, kind: job.name, attempt: job.attemptsMade }, `${job.name} task failed; it will be retried`)
    }
  })

  return {
    async close () {
      await reconciler.close()
      // Lets jobs in flight finish before the connection goes, unless Redis is away: then none can, and a job
      // left behind is taken up again once its lock expires (every step of it is safe to repeat).
      const force = !isConnected(connection)
      await Promise.all([tasks.close(force), markSeen.close(force)])
      await closeQueues(queues)
      await closeRedis(connection)
    }
  }
}
