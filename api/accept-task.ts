import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Db } from '../core/db/connect.js'
import type { Task, TaskKind } from '../core/db/schema.js'
import { createGroupCommit } from '../core/group-commit.js'
import { addWithin, type Queues, type TaskPayload } from '../core/queue.js'
import { isConnected } from '../core/redis.js'
import { createTasks, enqueueTask, isUnfinished, type NewTask } from '../core/tasks.js'
import { HttpProblem } from './errors.js'

/** How long a request waits for Redis to take its job before answering anyway: the task is committed already. */
const handOverWaitMs = 2000

export interface TaskRequest {
  kind: TaskKind
  /** The room the caller must be a member of, checked in the statement that records the task. */
  roomId: number
  payload: TaskPayload
  /** What an Idempotency-Key's retry must repeat (besides the route and its params). */
  body: Record<string, unknown>
  /** The answer when the caller is not a member of the room. */
  notAMember: () => HttpProblem | Promise<HttpProblem>
}

/**
 * The one way a task is accepted (sends, edits, deletes): record it in Postgres (if the caller is a member of the
 * room), hand it to the queue, answer 202 with its status URL. From the COMMIT on the task is kept: if the
 * hand-over fails, a worker's reconciler makes it.
 */
export function createTaskAcceptor ({ db, queues }: { db: Db, queues: Queues }) {
  // Tasks arriving together are recorded together: one INSERT (with its membership check) for the lot.
  const recordTask = createGroupCommit((tasks: NewTask[]) => createTasks(db, tasks), { maxBatch: 200 })

  /** Enqueues without letting a failing or slow Redis fail the request: the reconciler makes up for it. */
  async function handOver (request: FastifyRequest, task: Task) {
    try {
      if (!await addWithin(enqueueTask(queues, task), handOverWaitMs)) request.log.warn({ taskId: task.id }, 'enqueue is slow; answering now')
    } catch (error) {
      request.log.warn({ err: error, taskId: task.id }, 'enqueue failed; the reconciler will hand the task over')
    }
  }

  return async function acceptTask (request: FastifyRequest, reply: FastifyReply, asked: TaskRequest) {
    if (!isConnected(queues.connection)) {
      throw new HttpProblem(503, 'The queue cannot be reached right now; nothing was done. Try again shortly.', 'QUEUE_UNAVAILABLE')
    }
    const key = request.headers['idempotency-key']
    const accepted = await recordTask({
      kind: asked.kind,
      ownerId: request.userId,
      roomId: asked.roomId,
      payload: asked.payload,
      idempotency: typeof key === 'string'
        ? { key, request: { route: request.routeOptions.url, params: request.params, ...asked.body } }
        : undefined
    })
    if (accepted.outcome === 'not-a-member') throw await asked.notAMember()
    if (accepted.outcome === 'conflict') {
      throw new HttpProblem(422, 'This Idempotency-Key was used for a different request.', 'IDEMPOTENCY_KEY_REUSED')
    }
    const { task } = accepted
    // A replay hands its task over again too: Redis may have lost the job since (a duplicate job id is a no-op).
    if (isUnfinished(task.state)) await handOver(request, task)
    const statusUrl = `/v1/tasks/${task.id}`
    return reply.code(202).header('location', statusUrl).send({ taskId: task.id, state: task.state, statusUrl })
  }
}
