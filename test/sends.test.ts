import t from 'tap'
import { createUser, isProblem } from './helper.js'
import { countMessages, createGroupRoom, pausedDeployment, runningDeployment, sendToRoom, sendToUser, waitForTask } from './messaging-helper.js'

const { app, db, ann, bob, cat } = await runningDeployment(t)
const room = await createGroupRoom(app, ann, 'sends', [bob, cat])

async function messagesOfTask (taskId: string) {
  return await db.selectFrom('messages').selectAll().where('task_id', '=', taskId).execute()
}

t.test('a send answers 202 with a task to follow', async (t) => {
  const res = await sendToRoom(app, ann, room.id, 'hello')
  t.equal(res.statusCode, 202)
  const body = res.json()
  t.match(body, { taskId: /^[0-9a-f-]{36}$/, state: /^(queued|active|completed)$/ })
  t.equal(body.statusUrl, `/v1/tasks/${body.taskId}`)
  t.equal(res.headers.location, body.statusUrl)

  const task = await waitForTask(app, ann, body.taskId)
  t.match(task, { id: body.taskId, state: 'completed', result: { roomId: room.id, senderId: ann.id, text: 'hello' } })
  t.equal((await messagesOfTask(body.taskId)).length, 1)
})

t.test('text must be 1–4000 code points and not blank', async (t) => {
  const before = await countMessages(db, room.id)
  // U+0000 is refused up front: Postgres text cannot hold it, so a worker could never store the message.
  const bad = ['', '   ', '\n\t ', 'a'.repeat(4001), '😀'.repeat(4001), 'nul\u0000byte']
  for (const text of bad) {
    const res = await sendToRoom(app, ann, room.id, text)
    t.ok(isProblem(res, 400), `400 for ${text.length} UTF-16 units`)
    t.equal(res.json().code, 'VALIDATION_FAILED')
    t.equal(res.json().errors[0].in, 'body')
  }
  for (const payload of [{}, { text: null }, { text: ['a', 'b'] }, { text: 'hi', roomId: 1 }]) {
    const res = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ann.auth, payload })
    t.ok(isProblem(res, 400), `400 for ${JSON.stringify(payload)}`)
  }
  const plain = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: { ...ann.auth, 'content-type': 'text/plain' }, payload: 'hello' })
  t.ok(isProblem(plain, 415))
  t.ok(isProblem(await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, payload: { text: 'anon' } }), 401))

  // 4000 emoji are 8000 UTF-16 units but 4000 characters: accepted, and stored whole.
  const emoji = '😀'.repeat(4000)
  const res = await sendToRoom(app, ann, room.id, emoji)
  t.equal(res.statusCode, 202)
  const task = await waitForTask(app, ann, res.json().taskId)
  t.equal(task.state, 'completed')
  t.equal(task.result.text, emoji)
  t.equal((await messagesOfTask(res.json().taskId))[0]?.text, emoji)

  const padded = await sendToRoom(app, ann, room.id, '  padded  ')
  t.equal((await waitForTask(app, ann, padded.json().taskId)).result.text, '  padded  ', 'text is stored as sent')
  t.equal(await countMessages(db, room.id), before + 2, 'only the valid sends were stored')
})

t.test('the API records the task and enqueues it, and never writes the message itself', async (t) => {
  // A deployment whose workers are stopped: the send is accepted and waits in the queue.
  const { app: stoppedApp, db: stoppedDb, dan, eve, group } = await pausedDeployment(t, 'quiet')

  const res = await sendToRoom(stoppedApp, dan, group.id, 'anyone?')
  t.equal(res.statusCode, 202)
  t.equal(res.json().state, 'queued')
  const direct = await sendToUser(stoppedApp, dan, eve.id, 'psst')
  t.equal(direct.statusCode, 202)

  t.equal(await countMessages(stoppedDb), 0, 'no message stored')
  const rooms = await stoppedDb.selectFrom('rooms').select(['kind', 'last_seq']).execute()
  t.same(rooms.map((r) => r.last_seq), [0, 0], 'no seq taken')
  const tasks = await stoppedDb.selectFrom('tasks').select(['id', 'state', 'finished_at', 'payload']).orderBy('created_at').execute()
  t.match(tasks, [
    { id: res.json().taskId, state: 'queued', finished_at: null, payload: { roomId: group.id, senderId: dan.id, text: 'anyone?' } },
    { id: direct.json().taskId, state: 'queued', finished_at: null, payload: { senderId: dan.id, text: 'psst' } }
  ], 'each accepted send is recorded, queued, with what the worker needs')
  const task = await stoppedApp.inject({ url: `/v1/tasks/${res.json().taskId}`, headers: dan.auth })
  t.match(task.json(), { state: 'queued', attempts: 0, finishedAt: null, result: null, error: null })
})

t.test('a direct send creates the pair\'s room once and reuses it', async (t) => {
  const dan = await createUser(app, 'dan')
  const first = await sendToUser(app, dan, bob.id, 'first')
  t.equal(first.statusCode, 202)
  t.equal(first.headers.location, first.json().statusUrl)
  const firstTask = await waitForTask(app, dan, first.json().taskId)
  t.equal(firstTask.state, 'completed')
  const roomId = firstTask.result.roomId

  const second = await waitForTask(app, dan, (await sendToUser(app, dan, bob.id, 'second')).json().taskId)
  const reply = await waitForTask(app, bob, (await sendToUser(app, bob, dan.id, 'reply')).json().taskId)
  t.equal(second.result.roomId, roomId)
  t.equal(reply.result.roomId, roomId, 'the other direction uses the same room')
  t.same([firstTask, second, reply].map((task) => task.result.seq), [1, 2, 3])

  const directRooms = await db.selectFrom('rooms').selectAll()
    .where('direct_key', '=', [dan.id, bob.id].sort((a, b) => a - b).join(':')).execute()
  t.equal(directRooms.length, 1)
  t.match(directRooms[0], { id: roomId, kind: 'direct', name: null, last_seq: 3 })
  const view = await app.inject({ url: `/v1/rooms/${roomId}`, headers: bob.auth })
  t.match(view.json(), { kind: 'direct', name: null, memberIds: [dan.id, bob.id].sort((a, b) => a - b), unreadCount: 2 })
})

t.test('a direct send to myself or to nobody is refused and creates no room', async (t) => {
  const roomsBefore = (await db.selectFrom('rooms').select('id').execute()).length
  const self = await sendToUser(app, ann, ann.id, 'note to self')
  t.ok(isProblem(self, 422))
  t.equal(self.json().code, 'CANNOT_MESSAGE_SELF')
  t.ok(isProblem(await sendToUser(app, ann, 987654, 'hello?'), 404))
  t.ok(isProblem(await sendToUser(app, ann, 0, 'hello?'), 400))
  t.ok(isProblem(await sendToRoom(app, ann, 987654, 'hello?'), 404))
  t.equal((await db.selectFrom('rooms').select('id').execute()).length, roomsBefore)
})

t.test('an Idempotency-Key makes a retried send one message', async (t) => {
  const headers = { 'idempotency-key': 'retry-1' }
  const first = await sendToRoom(app, bob, room.id, 'exactly once', headers)
  const retry = await sendToRoom(app, bob, room.id, 'exactly once', headers)
  t.equal(first.statusCode, 202)
  t.equal(retry.statusCode, 202)
  t.equal(retry.json().taskId, first.json().taskId)
  t.equal(retry.headers.location, first.headers.location)

  const task = await waitForTask(app, bob, first.json().taskId)
  t.equal(task.state, 'completed')
  const late = await sendToRoom(app, bob, room.id, 'exactly once', headers)
  t.same(late.json(), { taskId: first.json().taskId, state: 'completed', statusUrl: first.json().statusUrl }, 'a retry after completion says so')
  t.equal((await messagesOfTask(first.json().taskId)).length, 1)
  const copies = await db.selectFrom('messages').select('id').where('text', '=', 'exactly once').execute()
  t.equal(copies.length, 1, 'one message stored')

  // Retries racing each other still make one task.
  const racing = await Promise.all(Array.from({ length: 5 }, () => sendToRoom(app, bob, room.id, 'racing', { 'idempotency-key': 'race' })))
  t.same(racing.map((res) => res.statusCode), [202, 202, 202, 202, 202])
  t.equal(new Set(racing.map((res) => res.json().taskId)).size, 1)
  await waitForTask(app, bob, racing[0]?.json().taskId)
  t.equal((await db.selectFrom('messages').select('id').where('text', '=', 'racing').execute()).length, 1)

  // Direct sends honour the key too.
  const directKey = { 'idempotency-key': 'direct-1' }
  const d1 = await sendToUser(app, bob, cat.id, 'direct once', directKey)
  const d2 = await sendToUser(app, bob, cat.id, 'direct once', directKey)
  t.equal(d2.json().taskId, d1.json().taskId)
  await waitForTask(app, bob, d1.json().taskId)
  t.equal((await db.selectFrom('messages').select('id').where('text', '=', 'direct once').execute()).length, 1)
})

t.test('the same Idempotency-Key with a different request is 422', async (t) => {
  const headers = { 'idempotency-key': 'reuse-me' }
  const first = await sendToRoom(app, cat, room.id, 'original', headers)
  t.equal(first.statusCode, 202)
  const otherText = await sendToRoom(app, cat, room.id, 'something else', headers)
  t.ok(isProblem(otherText, 422))
  t.equal(otherText.json().code, 'IDEMPOTENCY_KEY_REUSED')
  const otherTarget = await sendToUser(app, cat, ann.id, 'original', headers)
  t.ok(isProblem(otherTarget, 422), 'another target is another request')
  t.equal(otherTarget.json().code, 'IDEMPOTENCY_KEY_REUSED')

  await waitForTask(app, cat, first.json().taskId)
  t.equal((await db.selectFrom('messages').select('id').where('text', '=', 'something else').execute()).length, 0)
  t.equal((await db.selectFrom('messages').select('id').where('sender_id', '=', cat.id).where('text', '=', 'original').execute()).length, 1)

  const tooLong = await sendToRoom(app, cat, room.id, 'x', { 'idempotency-key': 'k'.repeat(256) })
  t.ok(isProblem(tooLong, 400))
})

t.test('keys are per user: two users may use the same key', async (t) => {
  const headers = { 'idempotency-key': 'shared-key' }
  const fromAnn = await sendToRoom(app, ann, room.id, 'same words', headers)
  const fromBob = await sendToRoom(app, bob, room.id, 'same words', headers)
  t.equal(fromAnn.statusCode, 202)
  t.equal(fromBob.statusCode, 202)
  t.not(fromAnn.json().taskId, fromBob.json().taskId)
  const [a, b] = await Promise.all([waitForTask(app, ann, fromAnn.json().taskId), waitForTask(app, bob, fromBob.json().taskId)])
  t.equal(a.result.senderId, ann.id)
  t.equal(b.result.senderId, bob.id)
  t.equal((await db.selectFrom('messages').select('id').where('text', '=', 'same words').execute()).length, 2)
  const catDifferent = await sendToRoom(app, cat, room.id, 'other words', headers)
  t.equal(catDifferent.statusCode, 202, 'another user\'s key does not conflict')
})
