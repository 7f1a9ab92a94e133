import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { queryOnce, testPooledReplicatedConfig } from '../harness/postgres-replication.js'
import { createUser, testApp, testWorkers } from './helper.js'
import { createGroupRoom, eventually, getUnseen, sendAndStore } from './messaging-helper.js'

// A real streaming replica (and pgbouncer in transaction mode in front of it and of the primary). With its replay
// paused, exactly the routes the README lists as "may lag" answer from before the pause; every other answer is fresh.
const config = await testPooledReplicatedConfig(t, { DATABASE_REPLICA_RETRY_SECONDS: '0.2' })
const { servers } = config
const app = await testApp(t, config)
testWorkers(t, config)

const [ann, bob] = await Promise.all([createUser(app, 'ann'), createUser(app, 'bob')])
const room = await createGroupRoom(app, ann, 'lobby', [bob])
await sendAndStore(app, ann, room.id, 'before the pause')

async function get (url: string, auth: { authorization: string }) {
  const res = await app.inject({ url, headers: auth })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}
const historyTexts = async () => (await get(`/v1/rooms/${room.id}/messages`, bob.auth)).items.map((item: { text: string }) => item.text)

/** How many lagging reads ran on `target` so far (the app's own metric). */
async function laggingReads (server: FastifyInstance, target: 'replica' | 'primary'): Promise<number> {
  const metrics = (await server.inject({ url: '/metrics' })).body
  return Number(new RegExp(`^pigeon_lagging_reads_total\\{target="${target}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
}

/** Resolves once the replica has replayed everything the primary has written so far. */
async function replicaCaughtUp (): Promise<void> {
  const [{ lsn }] = await queryOnce<{ lsn: string }>(servers.primaryUrl, 'select pg_current_wal_insert_lsn()::text as lsn') as [{ lsn: string }]
  await eventually(async () => (await queryOnce<{ done: boolean }>(servers.replicaUrl, `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as done`))[0]?.done, (done) => done === true, 20_000)
}

t.test('with replay paused, the history and the public rooms list lag; every other answer is fresh', async (t) => {
  await replicaCaughtUp()
  t.same(await historyTexts(), ['before the pause'], 'the replica had the history before the pause')
  const replicaReadsBefore = await laggingReads(app, 'replica')
  await queryOnce(servers.replicaUrl, 'select pg_wal_replay_pause()')
  // The call only asks: replay stops at its next record. Writes made before it has stopped could still be replayed.
  await eventually(async () => (await queryOnce<{ state: string }>(servers.replicaUrl, 'select pg_get_wal_replay_pause_state() as state'))[0]?.state, (state) => state === 'paused', 20_000)
  t.teardown(async () => { await queryOnce(servers.replicaUrl, 'select pg_wal_replay_resume()') })

  // Written on the primary while the replica stands still.
  const sent = await sendAndStore(app, ann, room.id, 'during the pause')
  const newRoom = await createGroupRoom(app, ann, 'made during the pause')
  const cat = await createUser(app, 'cat')
  const renamed = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: bob.auth, payload: { displayName: 'Bob, renamed' } })
  t.equal(renamed.statusCode, 200)

  // May lag: they answer from before the pause.
  t.same(await historyTexts(), ['before the pause'], 'a room\'s history')
  const publicNames = (await get('/v1/rooms/public', cat.auth)).items.map((item: { name: string }) => item.name)
  t.same(publicNames, ['lobby'], 'the public rooms list')
  t.ok(await laggingReads(app, 'replica') >= replicaReadsBefore + 2, 'both were read on the replica')

  // Fresh: everything else, the users list included (it fills from the replica only once it has replayed the last
  // user change, which it has not).
  const users = (await get('/v1/users', cat.auth)).items
  t.match(users.find((user: { id: number }) => user.id === cat.id), { username: 'cat' }, 'the users list has the new user')
  t.match(users.find((user: { id: number }) => user.id === bob.id), { displayName: 'Bob, renamed' }, 'and the new name')
  t.match(await get(`/v1/users/${cat.id}`, ann.auth), { username: 'cat' }, 'a user')
  t.match(await get('/v1/users/me', bob.auth), { displayName: 'Bob, renamed' }, 'me')
  t.match((await getUnseen(app, bob)).json().items.map((item: { text: string }) => item.text), ['before the pause', 'during the pause'], 'the unseen feed')
  t.match(await get(`/v1/messages/${sent.id}`, bob.auth), { text: 'during the pause' }, 'a message')
  const myRooms = (await get('/v1/rooms', ann.auth)).items
  t.match(myRooms.find((mine: { id: number }) => mine.id === room.id), { lastMessage: { text: 'during the pause' } }, 'my rooms and their last messages')
  t.ok(myRooms.some((mine: { id: number }) => mine.id === newRoom.id), 'my new room')
  t.match(await get(`/v1/rooms/${newRoom.id}`, ann.auth), { name: 'made during the pause' }, 'a room')
  // Membership is checked on the primary: a member of a moment ago reads the room (its history may lag).
  const joined = await app.inject({ method: 'PUT', url: `/v1/rooms/${newRoom.id}/members/me`, headers: cat.auth })
  t.ok([200, 201].includes(joined.statusCode), 'cat joins')
  t.same((await get(`/v1/rooms/${newRoom.id}/messages`, cat.auth)).items, [], 'and reads its history at once')
  const sendTask = await app.inject({ method: 'POST', url: `/v1/rooms/${newRoom.id}/messages`, headers: cat.auth, payload: { text: 'cat was here' } })
  t.equal(sendTask.statusCode, 202, 'and sends to it')
  t.match(await get(`/v1/tasks/${sendTask.json().taskId}?wait=10`, cat.auth), { state: 'completed' }, 'a task')

  await queryOnce(servers.replicaUrl, 'select pg_wal_replay_resume()')
  await eventually(historyTexts, (texts) => texts.length === 2, 20_000)
  t.same(await historyTexts(), ['during the pause', 'before the pause'], 'replay resumed: the history catches up')
})

t.test('a users page is filled from the replica once it has replayed the last user change', async (t) => {
  const renamed = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: ann.auth, payload: { displayName: 'Ann again' } })
  t.equal(renamed.statusCode, 200)
  await replicaCaughtUp()
  const before = await laggingReads(app, 'replica')
  const res = await app.inject({ url: '/v1/users', headers: bob.auth })
  t.equal(res.headers['x-cache'], 'miss')
  t.match(res.json().items.find((user: { id: number }) => user.id === ann.id), { displayName: 'Ann again' })
  t.equal(await laggingReads(app, 'replica'), before + 1, 'read on the replica')
})

t.test('a replica that goes away sends its reads to the primary, and they return once it is back', async (t) => {
  await servers.stopReplica()
  let restarted = false
  t.teardown(async () => { if (!restarted) await servers.startReplica() })
  await sendAndStore(app, ann, room.id, 'while the replica is away')
  const primaryBefore = await laggingReads(app, 'primary')
  // No failed request: the read that finds it away runs again on the primary (through pgbouncer it waits for it
  // a while first), and so do the ones after it.
  t.same((await historyTexts())[0], 'while the replica is away', 'the history, fresh from the primary')
  t.same((await historyTexts())[0], 'while the replica is away', 'and again')
  t.equal((await app.inject({ url: '/v1/rooms/public', headers: bob.auth })).statusCode, 200, 'the public rooms list')
  t.ok(await laggingReads(app, 'primary') >= primaryBefore + 3, 'read on the primary')

  await servers.startReplica()
  restarted = true
  const replicaBefore = await laggingReads(app, 'replica')
  await eventually(async () => {
    await historyTexts()
    return await laggingReads(app, 'replica')
  }, (reads) => reads > replicaBefore, 30_000)
  t.pass('the history reads the replica again')
})
