import { createHash, randomUUID } from 'node:crypto'
import { UnrecoverableError } from 'bullmq'
import { sql, type Transaction } from 'kysely'
import { jsonObjectFrom } from 'kysely/helpers/postgres'
import { isDatabaseUnavailable, type Db } from './db/connect.js'
import { messageFromJson, taskFromJson } from './db/json-rows.js'
import { messageColumns } from './db/message-columns.js'
import { taskKinds, type Database, type Message, type Task, type TaskKind, type TaskState } from './db/schema.js'
import type { Queues, TaskPayload } from './queue.js'
import type { FinishedTaskJson, Wakeup } from './wakeups.js'

/**
 * A task's life, in one place: accepted (the row is committed before the API answers 202), handed to BullMQ
 * (job id = task id), worked on, finished (outcome recorded, then the owner woken), re-handed by a reconciler
 * if Redis lost its job, failed at its deadline, and pruned after its retention.
 */

const unfinished = ['queued', 'active'] as const satisfies readonly TaskState[]

/** Still to be done: queued, or taken up by a worker (and maybe waiting to retry). */
export function isUnfinished (state: Task['state']): boolean {
  return (unfinished as readonly string[]).includes(state)
}

/** Why a task failed, as its owner reads it in the task's `error`. */
export interface TaskFailure { code: string, message: string }

/** What a send that failed for a reason of ours (its deadline passed), not the sender's, tells its owner. */
const sendFailed = { code: 'SEND_FAILED', message: 'The message could not be stored in time; send it again.' } as const satisfies TaskFailure
/** The same for an edit or a delete. */
const changeFailed = { code: 'CHANGE_FAILED', message: 'The change could not be applied in time; make it again.' } as const satisfies TaskFailure

/** The sender's own reason a task cannot be done (NOT_A_MEMBER, say): it fails at once and is never retried. */
export class TaskRefusal extends UnrecoverableError {
  constructor (readonly failure: TaskFailure) {
    super(failure.message)
  }
}

export type Acceptance =
  | { outcome: 'created', task: Task }
  /** The same Idempotency-Key with the same request: the task it created then. */
  | { outcome: 'replay', task: Task }
  /** The same Idempotency-Key with another request. */
  | { outcome: 'conflict' }
  /** The owner is not a member of the room the task was for. */
  | { outcome: 'not-a-member' }

export interface NewTask {
  kind: TaskKind
  ownerId: number
  payload: object
  idempotency?: { key: string, request: unknown }
  /** A room the owner must be a member of, checked in the same statement that records the task. */
  roomId?: number
  /** Fixed ids make a seed idempotent; everyone else gets a fresh UUID. */
  id?: string
}

/**
 * Records accepted tasks in Postgres, many in one statement: from its COMMIT on, each task is kept whatever
 * happens to Redis. An Idempotency-Key is unique per owner, so a retry finds the task its first request created.
 * Answers one acceptance per task, in order.
 */
export async function createTasks (db: Db, tasks: NewTask[]): Promise<Acceptance[]> {
  const rows = tasks.map((task) => ({
    id: task.id ?? randomUUID(),
    requestHash: task.idempotency === undefined ? null : sha256(JSON.stringify(task.idempotency.request)),
    task
  }))
  const column = <T>(read: (row: typeof rows[number]) => T) => rows.map(read)
  const { rows: created } = await sql<Task>`
    insert into tasks (id, kind, owner_id, payload, idempotency_key, request_hash)
    select t.id, t.kind, t.owner_id, t.payload, t.idempotency_key, t.request_hash
    from unnest(
      ${column((r) => r.id)}::text[], ${column((r) => r.task.kind)}::text[], ${column((r) => r.task.ownerId)}::bigint[],
      ${column((r) => JSON.stringify(r.task.payload))}::jsonb[], ${column((r) => r.task.idempotency?.key ?? null)}::text[],
      ${column((r) => r.requestHash)}::text[], ${column((r) => r.task.roomId ?? null)}::bigint[]
    ) as t(id, kind, owner_id, payload, idempotency_key, request_hash, room_id)
    where t.room_id is null or exists (select 1 from room_members m where m.room_id = t.room_id and m.user_id = t.owner_id)
    on conflict do nothing
    returning *`.execute(db)
  const createdById = new Map(created.map((task) => [task.id, task]))

  return await Promise.all(rows.map(async ({ id, requestHash, task }): Promise<Acceptance> => {
    const mine = createdById.get(id)
    if (mine !== undefined) return { outcome: 'created', task: mine }
    // Not inserted: an earlier task holds the id or the key, or the owner is not a member.
    let earlier = db.selectFrom('tasks').selectAll()
    earlier = task.idempotency === undefined
      ? earlier.where('id', '=', id)
      : earlier.where('owner_id', '=', task.ownerId).where('idempotency_key', '=', task.idempotency.key)
    const found = await earlier.executeTakeFirst()
    if (found === undefined) return { outcome: 'not-a-member' }
    return found.request_hash === requestHash ? { outcome: 'replay', task: found } : { outcome: 'conflict' }
  }))
}

/** Hands a task to BullMQ. Its job id is the task id, so handing it twice queues it once. */
export async function enqueueTask (queues: Queues, task: Pick<Task, 'id' | 'kind' | 'payload'>): Promise<void> {
  await queues.tasks.add(task.kind, task.payload as TaskPayload, { jobId: task.id })
}

/**
 * One attempt at these tasks: a transaction that takes them up, then hands `work` their rows. Taking them up is one
 * statement: every row locked until the end (in id order, so two batches that share a task cannot deadlock), and
 * each unfinished one `active` with one more attempt. A second run of a task waits for the lock, then finds it finished.
 */
export async function attemptTasks<T> (db: Db, taskIds: string[], work: (trx: Transaction<Database>, tasks: Task[]) => Promise<T>): Promise<T> {
  try {
    return await db.transaction().execute(async (trx) => await work(trx, await takeUpTasks(trx, taskIds)))
  } catch (error) {
    // The attempt rolled back with the work; it still counts (the task waits to retry, `active`), if Postgres can say so.
    if (!isDatabaseUnavailable(error)) await takeUpTasks(db, taskIds).catch(() => {})
    throw error
  }
}

/** Locks the tasks' rows in id order and starts an attempt at each unfinished one; answers every row as it is now. */
async function takeUpTasks (db: Db, taskIds: string[]): Promise<Task[]> {
  const isUnfinishedRow = sql<boolean>`state in (${sql.join(unfinished)})`
  return await db.updateTable('tasks')
    .set({
      state: sql<TaskState>`case when ${isUnfinishedRow} then 'active' else state end`,
      attempts: sql<number>`case when ${isUnfinishedRow} then attempts + 1 else attempts end`
    })
    .where('id', 'in', (eb) => eb.selectFrom('tasks').select('id').where('id', 'in', taskIds).orderBy('id').forUpdate())
    .returningAll().execute()
}

/** Records, in the caller's transaction, that these tasks failed for one reason. Publish after COMMIT. */
export async function failTasks (trx: Transaction<Database>, taskIds: string[], failure: TaskFailure): Promise<void> {
  if (taskIds.length === 0) return
  await trx.updateTable('tasks')
    .set({ state: 'failed', finished_at: sql`now()`, error_code: failure.code, error_message: failure.message })
    .where('id', 'in', taskIds).execute()
}

/** A task's columns that its owner's answer is made of (the payload, say, is not). */
export const answeredTaskColumns = ['id', 'kind', 'owner_id', 'state', 'attempts', 'created_at', 'finished_at', 'error_code', 'error_message'] as const
export type AnsweredTask = Pick<Task, typeof answeredTaskColumns[number]>

/** A task as its owner's answer shows it, with the message it stored (if any). */
export interface FoundTask { task: AnsweredTask, message: Message | undefined }

/**
 * The wake-up that ends the owner's `GET /v1/tasks/{id}?wait=` requests, on every API process; with `answer` (the
 * task and its message as JSON, read back in the transaction that finished it) a waiter can answer from it.
 */
export function taskFinished (task: { id: string, ownerId: number }, answer?: FinishedTaskJson): Wakeup {
  return { type: 'task-finished', taskId: task.id, ownerId: task.ownerId, ...(answer !== undefined && { answer }) }
}

/** The task a wake-up's answer carries, as findTask would have read it in the same snapshot. */
export function finishedTaskFromJson (answer: FinishedTaskJson): FoundTask {
  return { task: taskFromJson(answer.task), message: answer.message === null ? undefined : messageFromJson(answer.message) }
}

/** A task as Postgres holds it, with the message it stored (if any). */
export async function findTask (db: Db, taskId: string): Promise<FoundTask | undefined> {
  // One round trip: the stored message (if any) comes along as JSON.
  const row = await db.selectFrom('tasks').select(answeredTaskColumns)
    .select((eb) => jsonObjectFrom(eb.selectFrom('messages').select(messageColumns).whereRef('messages.id', '=', 'tasks.message_id')).as('message'))
    .where('id', '=', taskId).executeTakeFirst()
  if (row === undefined) return undefined
  const { message, ...task } = row
  return { task, message: message === null ? undefined : messageFromJson(message) }
}

/**
 * Removes the BullMQ jobs of finished tasks, and the payloads they hold with them (a deleted message's texts). A job
 * still running cannot be removed yet: this throws then, and the caller's retry removes it once it has finished.
 */
export async function removeTaskJobs (queues: Queues, taskIds: string[]): Promise<void> {
  for (const taskId of taskIds) {
    if (await queues.tasks.remove(taskId) === 1) continue
    const state = await queues.tasks.getJobState(taskId)
    if (state !== 'unknown') throw new Error(`the job of task ${taskId} is ${state}: it is removed on a retry`)
  }
}

/**
 * Leases unfinished tasks that nobody has looked at for `seconds`, so the caller can make sure their jobs
 * exist. SKIP LOCKED and the lease (`checked_at`) let any number of workers share the work without overlap.
 */
export async function leaseStaleTasks (db: Db, seconds: number, limit: number): Promise<Array<Pick<Task, 'id' | 'kind' | 'payload'>>> {
  return await db.updateTable('tasks').set({ checked_at: sql`now()` })
    .where('id', 'in', (eb) => eb.selectFrom('tasks').select('id')
      .where('state', 'in', unfinished)
      .where(sql<Date>`coalesce(checked_at, created_at)`, '<', sql<Date>`now() - make_interval(secs => ${seconds})`)
      .orderBy('created_at').limit(limit)
      .forUpdate().skipLocked())
    .returning(['id', 'kind', 'payload']).execute()
}

/** Fails the unfinished tasks older than the deadline (they were retried until then). Returns them, to be published. */
export async function failOverdueTasks (db: Db, deadlineSeconds: number, limit: number): Promise<Array<{ id: string, ownerId: number }>> {
  const isSend = sql<boolean>`kind = ${taskKinds.sendMessage}`
  const rows = await db.updateTable('tasks').set({
    state: 'failed',
    finished_at: sql`now()`,
    error_code: sql<string>`case when ${isSend} then ${sendFailed.code} else ${changeFailed.code} end`,
    error_message: sql<string>`case when ${isSend} then ${sendFailed.message} else ${changeFailed.message} end`
  })
    .where('id', 'in', (eb) => eb.selectFrom('tasks').select('id')
      .where('state', 'in', unfinished)
      .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${deadlineSeconds})`)
      .limit(limit)
      .forUpdate().skipLocked())
    .returning(['id', 'owner_id']).execute()
  return rows.map((row) => ({ id: row.id, ownerId: row.owner_id }))
}

/**
 * Deletes one batch of finished tasks past their retention; a task that holds an Idempotency-Key is kept
 * until the key expires too. Returns the ids of those that went.
 */
export async function pruneTasks (db: Db, options: { retentionSeconds: number, keySeconds: number, limit: number }): Promise<string[]> {
  const rows = await db.deleteFrom('tasks')
    .where('id', 'in', (eb) => eb.selectFrom('tasks').select('id')
      .where('finished_at', '<', sql<Date>`now() - make_interval(secs => ${options.retentionSeconds})`)
      .where((eb) => eb.or([
        eb('idempotency_key', 'is', null),
        eb('created_at', '<', sql<Date>`now() - make_interval(secs => ${options.keySeconds})`)
      ]))
      .limit(options.limit))
    .returning('id')
    .execute()
  return rows.map((row) => row.id)
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}
