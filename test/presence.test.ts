import type { AddressInfo } from 'node:net'
import t, { type Test as TapTest } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, type TestUser } from './helper.js'
import { createGroupRoom, eventually } from './messaging-helper.js'
import { openSocket, type Frame, type SocketClient } from './socket-client.js'

// A short window, so going offline is seen within the test; the rules are the same at 60 s.
const config = await testConfig(t, { PRESENCE_WINDOW_SECONDS: '1.5', TYPING_LIMIT_PER_USER: '100000' })
const app = await testApp(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const wsUrl = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/ws`

let users = 0
async function user (): Promise<TestUser> {
  return await createUser(app, `presence_${++users}`)
}

async function connect (t: TapTest, who: TestUser): Promise<SocketClient> {
  const client = await openSocket(wsUrl, ['pigeon.v1', `bearer.${who.accessToken}`])
  t.teardown(() => client.socket.terminate())
  t.match(await client.next(), { type: 'ready', userId: who.id })
  return client
}

async function presenceOf (of: TestUser, asker: TestUser) {
  const answer = await app.inject({ url: `/v1/users/${of.id}`, headers: asker.auth })
  return answer.json<{ presence: string, lastActiveAt: string | null }>()
}

async function inList (of: TestUser, asker: TestUser) {
  const answer = await app.inject({ url: '/v1/users?limit=200', headers: asker.auth })
  return answer.json<{ items: Array<{ id: number, presence: string, lastActiveAt: string | null }> }>().items.find((item) => item.id === of.id)
}

/** Once a socket's first read has subscribed its rooms (after `ready`): a typing notice of the room reaches it. */
async function listening (socket: SocketClient, typist: TestUser, roomId: number): Promise<void> {
  const heard = (frame: Frame) => frame.type === 'typing' && frame.data.userId === typist.id && frame.data.roomId === roomId
  await eventually(async () => {
    await app.inject({ method: 'POST', url: `/v1/rooms/${roomId}/typing`, headers: typist.auth, payload: { typing: false } })
    return socket.queued(heard).length
  }, (count) => count > 0)
}

const changeOf = (who: TestUser, presence: string) => (frame: Frame) => frame.type === 'presence.changed' && frame.data.userId === who.id && frame.data.presence === presence

t.test('online while a socket is held, idle when the client says so, offline a window after it closes; roommates are told, others not', async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()]
  const room = await createGroupRoom(app, alice, 'presence', [bob])
  await createGroupRoom(app, alice, 'presence too', [bob])
  t.match(await presenceOf(alice, bob), { presence: 'offline', lastActiveAt: null }, 'never seen')
  const bobSocket = await connect(t, bob)
  const carolSocket = await connect(t, carol)
  await listening(bobSocket, alice, room.id)

  const aliceSocket = await connect(t, alice)
  t.match((await bobSocket.next(changeOf(alice, 'online'))).data, { userId: alice.id, presence: 'online', lastActiveAt: String })
  t.match(await presenceOf(alice, carol), { presence: 'online', lastActiveAt: String }, 'anyone reads it')
  t.match(await inList(alice, carol), { presence: 'online' }, 'the cached list carries it too')
  t.same(carolSocket.queued((frame) => frame.type === 'presence.changed' && frame.data.userId === alice.id), [], 'no room shared: not told')

  aliceSocket.socket.send(JSON.stringify({ type: 'presence', presence: 'idle' }))
  await bobSocket.next(changeOf(alice, 'idle'))
  t.equal((await presenceOf(alice, bob)).presence, 'idle')
  t.same(bobSocket.queued(changeOf(alice, 'idle')), [], 'two rooms shared: told once')

  const active = await app.inject({ method: 'POST', url: '/v1/users/me/presence', headers: alice.auth, payload: { presence: 'active' } })
  t.equal(active.statusCode, 204)
  await bobSocket.next(changeOf(alice, 'online'))

  const busy = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: alice.auth, payload: { status: 'busy' } })
  t.equal(busy.statusCode, 200)
  await bobSocket.next(changeOf(alice, 'busy'))
  t.equal((await inList(alice, bob))?.presence, 'busy', 'a status set by hand wins over what is seen')
  await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: alice.auth, payload: { status: 'online' } })
  await bobSocket.next(changeOf(alice, 'online'))

  aliceSocket.socket.close()
  const gone = await bobSocket.next(changeOf(alice, 'offline'))
  t.match(gone.data, { presence: 'offline', lastActiveAt: String }, 'told when it went, with when it was last seen')
  const after = await presenceOf(alice, bob)
  t.equal(after.presence, 'offline')
  t.ok(after.lastActiveAt !== null && Date.parse(after.lastActiveAt) <= Date.now(), 'lastActiveAt stays')
  t.same(carolSocket.queued((frame) => frame.type === 'presence.changed'), [], 'carol heard nothing of alice throughout')
})

t.test('a long poll counts as being online', async (t) => {
  const [dave, erin] = [await user(), await user()]
  const poll = app.inject({ url: '/v1/messages/unseen?wait=3', headers: dave.auth })
  await eventually(async () => (await presenceOf(dave, erin)).presence, (presence) => presence === 'online')
  await poll
  const me = await app.inject({ url: '/v1/users/me', headers: dave.auth })
  t.match(me.json(), { id: dave.id, presence: 'online', lastActiveAt: String })
})

t.test('a bad presence report is 400, over HTTP and as a socket frame', async (t) => {
  const frank = await user()
  const answer = await app.inject({ method: 'POST', url: '/v1/users/me/presence', headers: frank.auth, payload: { presence: 'away' } })
  t.ok(isProblem(answer, 400))
  const socket = await connect(t, frank)
  socket.socket.send(JSON.stringify({ type: 'presence', presence: 'asleep', id: 'p1' }))
  t.match(await socket.next((frame) => frame.type === 'error'), { id: 'p1', body: { status: 400, code: 'VALIDATION_FAILED' } })
})

t.test('the users list\'s ETag changes when a listed user\'s presence does, though the cached page does not', async (t) => {
  const [gina, hank] = [await user(), await user()]
  const page = async (etag?: string) => await app.inject({ url: '/v1/users?limit=200', headers: { ...hank.auth, ...(etag !== undefined && { 'if-none-match': etag }) } })
  const before = await page()
  t.equal((await page(String(before.headers.etag))).statusCode, 304, 'nothing changed: 304')
  const poll = app.inject({ url: '/v1/messages/unseen?wait=3', headers: gina.auth })
  await eventually(async () => (await presenceOf(gina, hank)).presence, (presence) => presence === 'online')
  const after = await page(String(before.headers.etag))
  t.equal(after.statusCode, 200, 'gina came online: the old ETag no longer matches')
  t.match(after.json().items.find((listed: { id: number }) => listed.id === gina.id), { presence: 'online' })
  t.not(after.headers.etag, before.headers.etag)
  await poll
})
