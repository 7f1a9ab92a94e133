import { Job, Queue } from 'bullmq'
import { Redis } from 'ioredis'
import t from 'tap'
import { bullPrefix, queueNames, type SendMessagePayload } from '../core/queue.js'
import { taskKinds } from '../core/db/schema.js'
import { createPersistMessage } from '../worker/processors/persist-message.js'
import { testConfig, type Teardown } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb, testWorkers } from './helper.js'
import { countMessages, createGroupRoom, eventually, pausedDeployment, runningDeployment, sendToRoom, waitersReach, waitForTask } from './messaging-helper.js'

const { config, app, db, ann, bob, cat } = await runningDeployment(t)
const room = await createGroupRoom(app, ann, 'tasks', [bob])

/** The task queue as an operator (or BullMQ's retention) sees it. */
function taskQueue (t: Teardown, redisPrefix: string) {
  const connection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null })
  const queue = new Queue<SendMessagePayload>(queueNames.tasks, { connection, prefix: bullPrefix(redisPrefix, queueNames.tasks) })
  t.teardown(async () => {
    await queue.close()
    await connection.quit()
  })
  return queue
}

t.test('a completed task carries the stored message; only its owner sees it', async (t) => {
  const accepted = await sendToRoom(app, ann, room.id, 'stored for good')
  const taskId = accepted.json().taskId
  const task = await waitForTask(app, ann, taskId)
  const stored = await db.selectFrom('messages').selectAll().where('task_id', '=', taskId).executeTakeFirstOrThrow()
  t.same(task.result, {
    id: stored.id,
    roomId: room.id,
    seq: stored.seq,
    senderId: ann.id,
    text: 'stored for good',
    createdAt: stored.created_at.toISOString(),
    editedAt: null,
    deletedAt: null
  })
  t.match(task, { id: taskId, kind: 'send-message', state: 'completed', error: null })
  t.ok(task.attempts >= 1)
  t.ok(Date.parse(task.finishedAt) >= Date.parse(task.createdAt))

  const byBob = await app.inject({ url: `/v1/tasks/${taskId}`, headers: bob.auth })
  t.ok(isProblem(byBob, 404), 'a room mate does not see my task')
  t.ok(isProblem(await app.inject({ url: `/v1/tasks/${taskId}`, headers: cat.auth }), 404))
  t.ok(isProblem(await app.inject({ url: '/v1/tasks/00000000-0000-4000-8000-000000000000', headers: ann.auth }), 404))
  t.ok(isProblem(await app.inject({ url: `/v1/tasks/${taskId}` }), 401))
  t.ok(isProblem(await app.inject({ url: '/v1/tasks/not%20an%20id', headers: ann.auth }), 400))
  t.ok(isProblem(await app.inject({ url: `/v1/tasks/${taskId}?wait=31`, headers: ann.auth }), 400))
})

t.test('a sender who left before the worker ran gets a failed task, NOT_A_MEMBER', async (t) => {
  // Workers of this deployment start only after the sends were accepted.
  const { config: later, app: laterApp, db: laterDb, dan, eve, group } = await pausedDeployment(t, 'leaving')

  const leaverSend = await sendToRoom(laterApp, eve, group.id, 'sent, then left')
  const stayerSend = await sendToRoom(laterApp, dan, group.id, 'still here')
  const leaverTaskId = leaverSend.json().taskId
  const stayerTaskId = stayerSend.json().taskId
  t.equal((await laterApp.inject({ method: 'DELETE', url: `/v1/rooms/${group.id}/members/me`, headers: eve.auth })).statusCode, 204)

  const queued = await laterApp.inject({ url: `/v1/tasks/${leaverTaskId}?wait=1`, headers: eve.auth })
  t.match(queued.json(), { id: leaverTaskId, state: 'queued', attempts: 0, finishedAt: null, result: null, error: null }, 'nothing ran yet')
  t.ok(isProblem(await laterApp.inject({ url: `/v1/tasks/${leaverTaskId}`, headers: dan.auth }), 404), 'a queued task is the owner\'s too')

  // Held until the worker finishes it: one request that answers `completed` was woken by the task's end (a wait
  // that ran out would answer the state it read before waiting, `queued`).
  const waiting = waitForTask(laterApp, dan, stayerTaskId, 30)
  testWorkers(t, later)
  const [failed, completed] = await Promise.all([waitForTask(laterApp, eve, leaverTaskId), waiting])

  t.match(failed, { id: leaverTaskId, state: 'failed', result: null, error: { code: 'NOT_A_MEMBER', message: String } })
  t.notMatch(JSON.stringify(failed), /\n\s+at /, 'no stack trace')
  t.type(failed.finishedAt, 'string')
  t.match(completed, { state: 'completed', result: { roomId: group.id, seq: 1, senderId: dan.id } })

  t.equal(await countMessages(laterDb, group.id), 1, 'only the member\'s message was stored')
  const outcome = await laterDb.selectFrom('tasks').selectAll().where('id', '=', leaverTaskId).executeTakeFirstOrThrow()
  t.match(outcome, { state: 'failed', owner_id: eve.id, error_code: 'NOT_A_MEMBER', message_id: null })
})

t.test('a task stays answerable after BullMQ removed its job', async (t) => {
  const queue = taskQueue(t, config.REDIS_PREFIX)
  const accepted = await sendToRoom(app, bob, room.id, 'outlives its job')
  const taskId = accepted.json().taskId
  const before = await waitForTask(app, bob, taskId)
  t.equal(before.state, 'completed')

  const job = await queue.getJob(taskId)
  t.ok(job, 'the job was there')
  await job?.remove()
  t.equal(await queue.getJob(taskId), undefined, 'the job is gone')

  const after = await app.inject({ url: `/v1/tasks/${taskId}`, headers: bob.auth })
  t.equal(after.statusCode, 200)
  t.same(after.json(), before)
  t.ok(isProblem(await app.inject({ url: `/v1/tasks/${taskId}`, headers: ann.auth }), 404), 'still only the owner\'s')
})

t.test('a job that runs again after its message was stored stores nothing new', async (t) => {
  const queue = taskQueue(t, config.REDIS_PREFIX)
  const accepted = await sendToRoom(app, ann, room.id, 'only once')
  const taskId = accepted.json().taskId
  const first = await waitForTask(app, ann, taskId)
  const lastSeq = async () => (await db.selectFrom('rooms').select('last_seq').where('id', '=', room.id).executeTakeFirstOrThrow()).last_seq
  const seqBefore = await lastSeq()

  // BullMQ trims the job; the same job id comes again (a stalled job, say): its dedupe no longer helps.
  const job = await queue.getJob(taskId)
  const data = job?.data
  await job?.remove()
  if (data === undefined) throw new Error('job data')
  const rerun = await queue.add(taskKinds.sendMessage, data, { jobId: taskId })
  const state = await eventually(() => rerun.getState(), (s) => s === 'completed' || s === 'failed')
  t.equal(state, 'completed')
  const finished = await queue.getJob(taskId)
  t.equal(finished?.returnvalue.messageId, first.result.id, 'the rerun answers with the stored message')

  const rows = await db.selectFrom('messages').select('id').where('task_id', '=', taskId).execute()
  t.equal(rows.length, 1)
  t.equal(await lastSeq(), seqBefore, 'no seq taken')
  t.same(await waitForTask(app, ann, taskId), first)
})

t.test('the processor run twice at once on one job stores one message', async (t) => {
  // No workers here: the job waits while the processor is called directly on it, as two stalled runs would.
  const idle = await testConfig(t)
  const idleApp = await testApp(t, idle)
  const idleDb = testDb(t, idle)
  const queue = taskQueue(t, idle.REDIS_PREFIX)
  const redis = new Redis(idle.REDIS_URL)
  t.teardown(() => redis.quit())
  const silent = { debug () {}, info () {}, warn () {}, error () {} }
  const persist = createPersistMessage({ db: idleDb, redis, redisPrefix: idle.REDIS_PREFIX, log: silent, maxBatch: 16 })

  const fay = await createUser(idleApp, 'fay')
  const group = await createGroupRoom(idleApp, fay, 'twice')
  const accepted = await sendToRoom(idleApp, fay, group.id, 'one copy')
  const taskId = accepted.json().taskId
  const job = await Job.fromId<SendMessagePayload>(queue, taskId)
  if (job === undefined) throw new Error('job')

  const results = await Promise.all([persist(job), persist(job), persist(job)])
  const again = await persist(job)
  t.equal(new Set([...results, again].map((r) => r?.messageId)).size, 1, 'every run answers the same message')
  t.same(results[0], { messageId: again?.messageId, roomId: group.id, seq: 1 })
  t.equal(await countMessages(idleDb, group.id), 1)
  t.equal((await idleDb.selectFrom('tasks').selectAll().where('id', '=', taskId).execute()).length, 1)
  t.equal((await idleDb.selectFrom('rooms').select('last_seq').where('id', '=', group.id).executeTakeFirstOrThrow()).last_seq, 1)

  const task = await idleApp.inject({ url: `/v1/tasks/${taskId}`, headers: fay.auth })
  t.match(task.json(), { state: 'completed', result: { id: again?.messageId, seq: 1, text: 'one copy' } })
})

t.test('a task waited for is answered from the wake-up that finished it, as a read of Postgres would answer it', async (t) => {
  const { config: later, app: laterApp, dan, group } = await pausedDeployment(t, 'told')
  const taskId = (await sendToRoom(laterApp, dan, group.id, 'told by the worker')).json().taskId
  const waited = laterApp.inject({ url: `/v1/tasks/${taskId}?wait=20`, headers: dan.auth })
  await waitersReach(laterApp, 'task', 1)
  testWorkers(t, later)
  const answer = await waited
  t.match(answer.json(), { id: taskId, state: 'completed', result: { text: 'told by the worker' } })

  // The same task read from Postgres: its cached answer dropped (this deployment's own key), then read again.
  const redis = new Redis(later.REDIS_URL)
  t.teardown(() => redis.quit())
  await redis.del(`${later.REDIS_PREFIX}:task:${taskId}`)
  const read = await laterApp.inject({ url: `/v1/tasks/${taskId}`, headers: dan.auth })
  t.equal(read.body, answer.body, 'the same bytes')
  t.equal(read.headers.etag, answer.headers.etag, 'the same tag')
})

t.test('a wake-up that comes after its message was deleted does not answer the deleted text', async (t) => {
  const { config: later, app: laterApp, db: laterDb, dan, group } = await pausedDeployment(t, 'late news')
  const queue = taskQueue(t, later.REDIS_PREFIX)
  const taskId = (await sendToRoom(laterApp, dan, group.id, 'soon deleted')).json().taskId
  const waited = laterApp.inject({ url: `/v1/tasks/${taskId}?wait=20`, headers: dan.auth })
  await waitersReach(laterApp, 'task', 1)

  // A worker that stalls between its COMMIT and its wake-up (descheduled, say): its publish waits for the gate.
  const redis = new Redis(later.REDIS_URL)
  t.teardown(() => redis.quit())
  let open = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  const spublish = redis.spublish.bind(redis)
  Object.assign(redis, { spublish: async (channel: string, message: string) => { await gate; return await spublish(channel, message) } })
  const silent = { debug () {}, info () {}, warn () {}, error () {} }
  const persist = createPersistMessage({ db: laterDb, redis, redisPrefix: later.REDIS_PREFIX, log: silent, maxBatch: 16 })
  const job = await Job.fromId<SendMessagePayload>(queue, taskId)
  if (job === undefined) throw new Error('job')
  await job.remove()
  const persisted = persist(job)

  // Meanwhile the message, committed, is seen and deleted; the delete completes before the stalled wake-up goes out.
  const stored = await eventually(async () => await laterDb.selectFrom('messages').select('id').where('task_id', '=', taskId).executeTakeFirst(), (row) => row !== undefined)
  testWorkers(t, later)
  const deletion = await laterApp.inject({ method: 'DELETE', url: `/v1/messages/${stored?.id}`, headers: dan.auth })
  t.equal(deletion.statusCode, 202)
  t.match(await waitForTask(laterApp, dan, deletion.json().taskId), { state: 'completed' })
  await waitersReach(laterApp, 'task', 1)

  open()
  await persisted
  const answer = (await waited).json()
  t.match(answer, { id: taskId, state: 'completed', result: { text: null, deletedAt: String } }, 'the delete, not the text the wake-up carried')
  t.notMatch(JSON.stringify(answer), /soon deleted/)
})
