import t from 'tap'
import { startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testDb, type TestUser } from './helper.js'
import { countMessages, createGroupRoom, eventually, sendToRoom, sendToUser, waitForTask } from './messaging-helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)
// Two worker processes, as two machines would run them, racing for the same jobs and the same room.
// (No metrics port: two processes on one host cannot both listen on the default.)
const workerEnv = { WORKER_CONCURRENCY: '8', WORKER_METRICS_PORT: '0' }
const workers = [startWorker(config, workerEnv), startWorker(config, workerEnv)]
t.teardown(async () => { await Promise.all(workers.map((worker) => worker.stop())) })

let userCount = 0
async function users (n: number): Promise<TestUser[]> {
  return await Promise.all(Array.from({ length: n }, () => createUser(app, `user_${++userCount}`)))
}

t.test('500 concurrent sends to one room get seqs 1..500 in order, none lost, none twice', async (t) => {
  const senders = await users(5)
  const [owner, ...others] = senders
  if (owner === undefined) throw new Error('users')
  const room = await createGroupRoom(app, owner, 'busy', others)
  const perSender = 100
  const total = senders.length * perSender

  const sends = senders.flatMap((sender) => Array.from({ length: perSender }, (_, i) => ({ sender, text: `${sender.username} #${i}` })))
  const accepted = await Promise.all(sends.map(({ sender, text }) => sendToRoom(app, sender, room.id, text)))
  t.same(new Set(accepted.map((res) => res.statusCode)), new Set([202]), 'every send accepted')
  const taskIds = accepted.map((res) => res.json().taskId as string)
  t.equal(new Set(taskIds).size, total, 'one task per send')

  const stored = await eventually(() => countMessages(db, room.id), (n) => n >= total, 45_000)
    .catch((error: Error) => { throw new Error(`${error.message}\n${workers.map((w) => w.output()).join('\n')}`) })
  t.equal(stored, total)

  const rows = await db.selectFrom('messages').select(['id', 'seq', 'sender_id', 'text', 'task_id'])
    .where('room_id', '=', room.id).orderBy('seq').execute()
  t.same(rows.map((row) => row.seq), Array.from({ length: total }, (_, i) => i + 1), 'seqs are unique and gapless')
  t.same(rows.map((row) => row.id), [...rows.map((row) => row.id)].sort((a, b) => a - b), 'seq order is insert order')
  t.same(new Set(rows.map((row) => row.task_id)), new Set(taskIds), 'each task stored exactly its one message')
  const { last_seq: lastSeq } = await db.selectFrom('rooms').select('last_seq').where('id', '=', room.id).executeTakeFirstOrThrow()
  t.equal(lastSeq, total)

  const tasks = await Promise.all(sends.map(({ sender }, i) => waitForTask(app, sender, taskIds[i] ?? '', 5)))
  const notCompleted = tasks.filter((task) => task.state !== 'completed')
  t.same(notCompleted, [], 'all 500 tasks completed')
  const bySeq = new Map(rows.map((row) => [row.seq, row]))
  t.ok(tasks.every((task, i) => {
    const row = bySeq.get(task.result?.seq)
    return row !== undefined && row.task_id === taskIds[i] && row.text === sends[i]?.text && row.sender_id === sends[i]?.sender.id
  }), 'each task\'s result is the message it sent')

  const page = await app.inject({ url: `/v1/rooms/${room.id}/messages?limit=1`, headers: owner.auth })
  t.match(page.json().items, [{ seq: total }], 'history starts at the last seq')
  for (const worker of workers) {
    t.doesNotThrow(() => process.kill(worker.pid, 0), `worker ${worker.pid} is still running`)
    t.equal(worker.output().trim(), '', `worker ${worker.pid} logged no warnings or errors`)
  }
})

t.test('members leaving and joining while their sends are stored, across rooms: every answer clean, every task ends', async (t) => {
  const members = await users(6)
  const [owner, ...others] = members
  if (owner === undefined) throw new Error('users')
  // Several rooms, so a worker's batch spans rooms, and leaves lock the rooms the batches write to.
  const rooms = await Promise.all(['a', 'b', 'c'].map((name) => createGroupRoom(app, owner, `churn ${name}`, others)))
  const sends = members.flatMap((sender) => rooms.flatMap((room) => Array.from({ length: 10 }, (_, i) => ({ sender, room, text: `${sender.username} ${room.id} #${i}` }))))
  const churn = others.slice(0, 3).flatMap((member) => rooms.map(async (room) => {
    const answers: number[] = []
    for (let round = 0; round < 5; round++) {
      answers.push((await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: member.auth })).statusCode)
      answers.push((await app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/me`, headers: member.auth })).statusCode)
    }
    return answers
  }))
  const [accepted, churned] = await Promise.all([
    Promise.all(sends.map(({ sender, room, text }) => sendToRoom(app, sender, room.id, text))),
    Promise.all(churn)
  ])
  t.same(new Set(churned.flat()), new Set([204, 200]), 'every leave and join answered as it should (no deadlock, no error)')
  const taskIds = accepted.filter((res) => res.statusCode === 202).map((res) => res.json().taskId as string)
  t.ok(accepted.every((res) => res.statusCode === 202 || res.json().code === 'JOIN_REQUIRED'), 'a send is accepted, or told to join the (public) room while its sender is out')

  const finished = await eventually(
    async () => await db.selectFrom('tasks').select(['state', 'error_code']).where('id', 'in', taskIds).execute(),
    (rows) => rows.every((row) => row.state === 'completed' || row.state === 'failed'), 60_000)
  t.same(new Set(finished.filter((row) => row.state === 'failed').map((row) => row.error_code)), new Set(finished.some((row) => row.state === 'failed') ? ['NOT_A_MEMBER'] : []),
    'a task fails only because its sender had left')
  for (const room of rooms) {
    const seqs = (await db.selectFrom('messages').select('seq').where('room_id', '=', room.id).orderBy('seq').execute()).map((row) => row.seq)
    t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `room ${room.id}: seqs gapless`)
  }
  for (const worker of workers) t.equal(worker.output().trim(), '', `worker ${worker.pid} logged no warnings or errors`)
})

t.test('two users sending each other their first message at once share one direct room', async (t) => {
  const pairs = 10
  const people = await users(pairs * 2)
  const outcomes = await Promise.all(Array.from({ length: pairs }, async (_, p) => {
    const a = people[2 * p]
    const b = people[2 * p + 1]
    if (a === undefined || b === undefined) throw new Error('users')
    const [fromA, fromB] = await Promise.all([sendToUser(app, a, b.id, `hi ${b.username}`), sendToUser(app, b, a.id, `hi ${a.username}`)])
    const tasks = await Promise.all([waitForTask(app, a, fromA.json().taskId), waitForTask(app, b, fromB.json().taskId)])
    return { a, b, statuses: [fromA.statusCode, fromB.statusCode], tasks }
  }))

  for (const { a, b, statuses, tasks } of outcomes) {
    t.same(statuses, [202, 202])
    const key = [a.id, b.id].sort((x, y) => x - y).join(':')
    const rooms = await db.selectFrom('rooms').select(['id', 'last_seq']).where('direct_key', '=', key).execute()
    t.equal(rooms.length, 1, `one direct room for ${key}`)
    const members = await db.selectFrom('room_members').select('user_id').where('room_id', '=', rooms[0]?.id ?? 0).orderBy('user_id').execute()
    t.same(members.map((m) => m.user_id), key.split(':').map(Number))
    t.same(tasks.map((task) => task.state), ['completed', 'completed'])
    t.same(tasks.map((task) => task.result.roomId), [rooms[0]?.id, rooms[0]?.id], 'both messages in that room')
    t.same(tasks.map((task) => task.result.seq).sort(), [1, 2])
  }
  const allDirect = await db.selectFrom('rooms').select('id').where('kind', '=', 'direct').execute()
  t.equal(allDirect.length, pairs, 'no stray rooms')
})
