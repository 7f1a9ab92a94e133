import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Db } from '../core/db/connect.js'
import { testConfig, type Teardown } from '../harness/test-config.js'
import { createUser, testApp, testDb, testWorkers, type TestUser } from './helper.js'

/** A message as the API shows it. */
export interface MessageBody {
  id: number
  roomId: number
  seq: number
  senderId: number | null
  text: string | null
  createdAt: string
  editedAt: string | null
  deletedAt: string | null
}

/** Creates a group room through the API; `members` are the others, the owner joins as creator. */
export async function createGroupRoom (app: FastifyInstance, owner: TestUser, name: string, members: TestUser[] = []): Promise<{ id: number, memberIds: number[] }> {
  const res = await app.inject({ method: 'POST', url: '/v1/rooms', headers: owner.auth, payload: { name, memberIds: members.map((m) => m.id) } })
  if (res.statusCode !== 201) throw new Error(`create room: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function sendToRoom (app: FastifyInstance, from: TestUser, roomId: number, text: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/rooms/${roomId}/messages`, headers: { ...from.auth, ...headers }, payload: { text } })
}

export async function sendToUser (app: FastifyInstance, from: TestUser, userId: number, text: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/users/${userId}/messages`, headers: { ...from.auth, ...headers }, payload: { text } })
}

/** PATCH (with `text`) or DELETE (`text` null) of a message: the 202 or the problem. */
export async function changeMessage (app: FastifyInstance, by: TestUser, messageId: number, text: string | null, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: text === null ? 'DELETE' : 'PATCH',
    url: `/v1/messages/${messageId}`,
    headers: { ...by.auth, ...headers },
    ...(text === null ? {} : { payload: { text } })
  })
}

/** Edits or deletes through the API and waits for the worker: the finished task. */
export async function changeAndApply (app: FastifyInstance, by: TestUser, messageId: number, text: string | null) {
  const accepted = await changeMessage(app, by, messageId, text)
  if (accepted.statusCode !== 202) throw new Error(`change: ${accepted.statusCode} ${accepted.body}`)
  return await waitForTask(app, by, accepted.json().taskId)
}

/** The task's state once it finished, or after `seconds` (through `?wait=`). */
export async function waitForTask (app: FastifyInstance, owner: TestUser, taskId: string, seconds = 10) {
  const res = await app.inject({ url: `/v1/tasks/${taskId}?wait=${seconds}`, headers: owner.auth })
  if (res.statusCode !== 200) throw new Error(`task ${taskId}: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Sends through the API and waits for the worker: the stored message. */
export async function sendAndStore (app: FastifyInstance, from: TestUser, roomId: number, text: string): Promise<MessageBody> {
  const accepted = await sendToRoom(app, from, roomId, text)
  if (accepted.statusCode !== 202) throw new Error(`send: ${accepted.statusCode} ${accepted.body}`)
  const task = await waitForTask(app, from, accepted.json().taskId)
  if (task.state !== 'completed') throw new Error(`send ended ${task.state}: ${JSON.stringify(task.error)}`)
  return task.result
}

/** Sends one after the other, so the seqs follow the order of `texts`. */
export async function sendAllAndStore (app: FastifyInstance, from: TestUser, roomId: number, texts: string[]): Promise<MessageBody[]> {
  const stored: MessageBody[] = []
  for (const text of texts) stored.push(await sendAndStore(app, from, roomId, text))
  return stored
}

export async function getUnseen (app: FastifyInstance, user: TestUser, query: { cursor?: string, limit?: number, wait?: number } = {}): Promise<LightMyRequestResponse> {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value))
  return await app.inject({ url: `/v1/messages/unseen?${params.toString()}`, headers: user.auth })
}

export async function readWatermark (db: Db, roomId: number, userId: number): Promise<number | undefined> {
  const row = await db.selectFrom('room_members').select('last_read_seq')
    .where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst()
  return row?.last_read_seq
}

/** Polls until `done` holds or `ms` pass, and returns the last value read either way: the caller's assertions say what was wrong. */
export async function settle<T> (read: () => Promise<T>, done: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value) || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Polls until `check` holds (asynchronous effects such as a worker's), failing after `ms`. */
export async function eventually<T> (read: () => Promise<T>, check: (value: T) => boolean, ms = 5000): Promise<T> {
  const value = await settle(read, check, ms)
  if (!check(value)) throw new Error(`still not as expected after ${ms} ms: ${JSON.stringify(value)}`)
  return value
}

export async function countMessages (db: Db, roomId?: number): Promise<number> {
  let query = db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n'))
  if (roomId !== undefined) query = query.where('room_id', '=', roomId)
  const { n } = await query.executeTakeFirstOrThrow()
  return Number(n)
}

/** A deployment of its own with its workers running, and three users (ann, bob, cat): how most messaging tests start. */
export async function runningDeployment (t: Teardown) {
  const config = await testConfig(t)
  const app = await testApp(t, config)
  const db = testDb(t, config)
  testWorkers(t, config)
  const [ann, bob, cat] = await Promise.all(['ann', 'bob', 'cat'].map((name) => createUser(app, name))) as [TestUser, TestUser, TestUser]
  return { config, app, db, ann, bob, cat }
}

/** A deployment of its own whose workers are not running (start them with testWorkers when the test wants): dan and eve share a group room. */
export async function pausedDeployment (t: Teardown, roomName: string, overrides: Record<string, string> = {}) {
  const config = await testConfig(t, overrides)
  const app = await testApp(t, config)
  const db = testDb(t, config)
  const [dan, eve] = await Promise.all([createUser(app, 'dan'), createUser(app, 'eve')])
  const group = await createGroupRoom(app, dan, roomName, [eve])
  return { config, app, db, dan, eve, group }
}

/** How many requests wait in a long poll on `server`, as its /metrics reports. */
async function waiting (server: FastifyInstance, kind: 'feed' | 'task'): Promise<number> {
  const metrics = await server.inject('/metrics')
  const match = new RegExp(`^pigeon_longpoll_waiters\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(metrics.body)
  if (match === null) throw new Error(`no waiter gauge in /metrics: ${metrics.statusCode}`)
  return Number(match[1])
}

/** A sync point: resolves once `n` requests are registered as waiting (so a wake-up now reaches them). */
export async function waitersReach (server: FastifyInstance, kind: 'feed' | 'task', n: number, ms = 5000): Promise<void> {
  await eventually(() => waiting(server, kind), (count) => count === n, ms)
}
