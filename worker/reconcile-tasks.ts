import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../core/config.js'
import type { Db } from '../core/db/connect.js'
import type { Log } from '../core/log.js'
import type { Queues } from '../core/queue.js'
import { isConnected, type RedisClient } from '../core/redis.js'
import type { TaskCache } from '../core/task-cache.js'
import { enqueueTask, failOverdueTasks, leaseStaleTasks, pruneTasks, taskFinished } from '../core/tasks.js'
import { publishWakeups } from '../core/wakeups.js'

const batch = 500

export interface ReconcileReport { requeued: number, failed: number, pruned: number }

/**
 * Keeps Postgres's tasks and BullMQ's jobs in step, from every worker process at once: re-creates the job of an
 * unfinished task that Redis lost (data loss, or a crash between the API's COMMIT and its enqueue), fails tasks
 * past their deadline, and prunes finished tasks past their retention.
 */
export function createTaskReconciler ({ config, db, redis, log, queues, taskCache }: { config: Config, db: Db, redis: RedisClient, log: Log, queues: Queues, taskCache: TaskCache }) {
  /** Makes sure the task has a live job: a missing one is re-created, a finished one (the task is not) is replaced. */
  async function ensureJob (task: Parameters<typeof enqueueTask>[1]): Promise<boolean> {
    const state = await queues.tasks.getJobState(task.id)
    if (state !== 'unknown' && state !== 'completed' && state !== 'failed') return false
    if (state !== 'unknown') await queues.tasks.remove(task.id)
    await enqueueTask(queues, task)
    return true
  }

  async function runOnce (): Promise<ReconcileReport> {
    const report: ReconcileReport = { requeued: 0, failed: 0, pruned: 0 }
    // Nothing to hand over (and nobody to wake) while Redis is away; tasks wait in Postgres until it is back.
    if (!isConnected(redis)) return report
    for (let overdue = await failOverdueTasks(db, config.TASK_DEADLINE_SECONDS, batch); overdue.length > 0;
      overdue = await failOverdueTasks(db, config.TASK_DEADLINE_SECONDS, batch)) {
      await publishWakeups(redis, config.REDIS_PREFIX, overdue.map((task) => taskFinished(task)))
      report.failed += overdue.length
      log.error({ tasks: overdue.map((task) => task.id) }, 'tasks failed at their deadline')
    }
    for (let stale = await leaseStaleTasks(db, config.RECONCILE_INTERVAL_SECONDS, batch); stale.length > 0;
      stale = await leaseStaleTasks(db, config.RECONCILE_INTERVAL_SECONDS, batch)) {
      const requeued = await Promise.all(stale.map(ensureJob))
      report.requeued += requeued.filter(Boolean).length
    }
    for (let pruned = batch; pruned === batch; report.pruned += pruned) {
      const ids = await pruneTasks(db, { retentionSeconds: config.TASK_RETENTION_SECONDS, keySeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS, limit: batch })
      // A pruned task answers 404 everywhere, not its cached answer.
      await taskCache.forget(ids)
      pruned = ids.length
    }
    if (report.requeued > 0) log.warn({ requeued: report.requeued }, 're-created jobs that Redis had lost')
    return report
  }

  const stopping = new AbortController()
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      // Outages are what this is for: a failed run is tried again next time.
      await runOnce().catch((error: unknown) => log.warn({ err: error }, 'reconciling tasks failed; trying again later'))
      await sleep(config.RECONCILE_INTERVAL_SECONDS * 1000, undefined, { signal: stopping.signal }).catch(() => {})
    }
  })()

  return {
    runOnce,
    async close () {
      stopping.abort()
      // A run waiting on a Redis that is away would hold the shutdown: dropping the connection ends it instead.
      if (isConnected(redis)) await loop
    }
  }
}
