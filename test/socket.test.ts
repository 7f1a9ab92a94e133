import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t, { type Test as TapTest } from 'tap'
import jwt from '../api/plugins/external/jwt.js'
import { testConfig } from '../harness/test-config.js'
import { editedCursor, sealedBy } from './cursor-kit.js'
import { createUser, testApp, testWorkers, type TestUser } from './helper.js'
import { changeAndApply, createGroupRoom, eventually, getUnseen, sendAllAndStore, sendAndStore, sendToRoom } from './messaging-helper.js'
import { openSocket, type SocketClient } from './socket-client.js'
import { openSse } from './sse-client.js'

// Requests in flight per socket out of reach: the slow consumer below piles up answers (the bound has its own tests).
const config = await testConfig(t, { PUSH_HEARTBEAT_SECONDS: '0.5', WS_AUTH_TIMEOUT_SECONDS: '0.5', PUSH_BUFFER_LIMIT_BYTES: '65536', SOCKET_REQUESTS_IN_FLIGHT: '1000' })
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const wsUrl = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/ws`

let users = 0
async function user (): Promise<TestUser> {
  return await createUser(app, `socket_${++users}`)
}

// The API's own JWT plugin with this file's config, on a server of its own (the app's is encapsulated in it).
const signer = Fastify()
await signer.register(jwt, { config })
t.teardown(() => signer.close())

/** An access token as the API signs them, expiring in `seconds`. */
function accessToken (userId: number, seconds: number): string {
  return signer.jwt.sign({ sub: String(userId), typ: 'access' }, { expiresIn: seconds })
}

/** How many sockets this API holds open, as its /metrics reports. */
async function openSockets (): Promise<number> {
  const match = /^pigeon_websockets_open (\d+)$/m.exec((await app.inject('/metrics')).body)
  if (match === null) throw new Error('no pigeon_websockets_open in /metrics')
  return Number(match[1])
}

async function connect (t: TapTest, who: TestUser, query = ''): Promise<SocketClient> {
  const client = await openSocket(`${wsUrl}${query}`, ['pigeon.v1', `bearer.${who.accessToken}`])
  t.teardown(() => client.socket.terminate())
  t.match(await client.next(), { type: 'ready', userId: who.id })
  return client
}

t.test('a token in the handshake: the socket pushes new messages with a cursor, and my finished tasks', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'push', [bob])
  const bobSocket = await connect(t, bob)
  const aliceSocket = await connect(t, alice)
  t.equal(aliceSocket.socket.protocol, 'pigeon.v1', 'the server answers with the protocol name, not the token')

  const sent = await sendAndStore(app, alice, room.id, 'over the socket')
  const created = await bobSocket.next((frame) => frame.type === 'message.created')
  t.same(created.data, sent, 'the same JSON the REST routes answer')
  t.equal(created.cursor, (await getUnseen(app, bob)).json().cursor, 'the cursor the long poll gives for the same messages')

  const finished = await aliceSocket.next((frame) => frame.type === 'task.finished')
  t.match(finished.data, { state: 'completed', result: sent })
})

/** A counter of this API's /metrics, by its name and labels as they are printed. */
async function counter (series: string): Promise<number> {
  const line = (await app.inject('/metrics')).body.split('\n').find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

t.test('waiting sockets of a room\'s members get a message, its edit and its delete, each once, in order, from one room read each', async (t) => {
  const alice = await user()
  const members = [await user(), await user(), await user(), await user(), await user()]
  const room = await createGroupRoom(app, alice, 'many sockets', members)
  const readsBefore = await counter('pigeon_feed_reads_total{channel="socket"}')
  const sockets = []
  for (const member of members) sockets.push(await connect(t, member))
  const aliceSocket = await connect(t, alice)
  // Every socket has read its feed (twice if its rooms' channels were new here), and waits.
  await eventually(async () => await counter('pigeon_feed_reads_total{channel="socket"}'), (n) => n >= readsBefore + 6)
  await settleDown()
  const reads = await counter('pigeon_feed_reads_total{channel="socket"}')
  const roomReads = await counter('pigeon_feed_reads_total{channel="room"}')

  const sent = await sendAndStore(app, alice, room.id, 'to every socket')
  for (const socket of sockets) t.same((await socket.next((frame) => frame.type === 'message.created')).data, sent, 'the message')
  await changeAndApply(app, alice, sent.id, 'edited for every socket')
  for (const socket of sockets) t.match((await socket.next((frame) => frame.type === 'message.edited')).data, { id: sent.id, text: 'edited for every socket' })
  await changeAndApply(app, alice, sent.id, null)
  const cursors = []
  for (const socket of sockets) {
    const deleted = await socket.next((frame) => frame.type === 'message.deleted')
    t.match(deleted.data, { id: sent.id, text: null })
    cursors.push(deleted.cursor)
  }
  await settleDown()
  for (const socket of sockets) t.same(socket.queued((frame) => frame.type?.startsWith('message.') === true), [], 'nothing twice')
  t.same(aliceSocket.queued((frame) => frame.type?.startsWith('message.') === true), [], 'the sender gets none of its own')
  t.equal(await counter('pigeon_feed_reads_total{channel="room"}'), roomReads + 3, 'one room read for all of them, per change')
  t.equal(await counter('pigeon_feed_reads_total{channel="socket"}'), reads, 'and no socket read its whole feed')
  const resumed = await getUnseen(app, members[0] as TestUser, { cursor: cursors[0] })
  t.match(resumed.json(), { items: [], changes: [] }, 'the last event\'s cursor resumes after all of it')
})

/** Lets what is in flight land: the worker's acknowledgements and wake-ups, the sockets' reads. */
async function settleDown (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300))
}

t.test('a token in the first frame; none in time, or a bad one, closes with a code to act on', async (t) => {
  const bob = await user()
  const late = await openSocket(wsUrl)
  late.socket.send(JSON.stringify({ type: 'auth', token: bob.accessToken }))
  t.match(await late.next(), { type: 'ready', userId: bob.id })
  late.socket.close()

  const silent = await openSocket(wsUrl)
  t.equal(await silent.closed, 4408, 'no token in time')
  const wrong = await openSocket(wsUrl, ['pigeon.v1', 'bearer.not-a-token'])
  t.equal(await wrong.closed, 4401, 'a bad token')
  const refresh = await openSocket(wsUrl, ['pigeon.v1', `bearer.${bob.refreshToken}`])
  t.equal(await refresh.closed, 4401, 'a refresh token is not an access token')
})

t.test('a token that expires ends the socket with 4401', async (t) => {
  const bob = await user()
  const shortLived = accessToken(bob.id, 1)
  const client = await openSocket(wsUrl, ['pigeon.v1', `bearer.${shortLived}`])
  t.match(await client.next(), { type: 'ready' })
  t.equal(await client.closed, 4401)
})

t.test('resuming with ?cursor= acknowledges what it covers and sends only what follows', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'resume', [bob])
  for (const text of ['one', 'two', 'three']) await sendAndStore(app, alice, room.id, text)
  const first = await connect(t, bob)
  const one = await first.next((frame) => frame.type === 'message.created')
  first.socket.terminate()

  const second = await connect(t, bob, `?cursor=${one.cursor}`)
  const texts = [(await second.next((f) => f.type === 'message.created')).data.text, (await second.next((f) => f.type === 'message.created')).data.text]
  t.same(texts, ['two', 'three'])
  const unseen = await eventually(async () => (await getUnseen(app, bob)).json(), (body) => body.items.length === 2)
  t.same(unseen.items.map((m: { text: string }) => m.text), ['two', 'three'], 'one is acknowledged')
})

t.test('a cursor claiming more than a room holds never skips a later message; an edited one is refused', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'over-claimed', [bob])
  await sendAllAndStore(app, alice, room.id, ['one', 'two'])
  const claim = new Map([[room.id, 99_999]])
  const overClaiming = sealedBy(config).sealFeed(bob.id, { seenUpTo: claim, changesAfter: claim })

  const client = await connect(t, bob, `?cursor=${overClaiming}`)
  const later = await sendAndStore(app, alice, room.id, 'three')
  const pushed = await client.next((frame) => frame.type === 'message.created')
  t.same(pushed.data, later, 'the message that came later is pushed')
  client.socket.terminate()

  const edited = editedCursor(String(pushed.cursor), (content) => ({ ...content, v: { ...content.v, s: { [room.id]: 99_999 } } }))
  const tampered = await openSocket(`${wsUrl}?cursor=${edited}`, ['pigeon.v1', `bearer.${bob.accessToken}`])
  t.teardown(() => tampered.socket.terminate())
  t.match(await tampered.next(), { type: 'error', body: { status: 400, code: 'INVALID_CURSOR' } }, 'the REST answer, as an error frame')
  t.equal(await tampered.closed, 4400, 'then the socket closes, as for a malformed cursor')
  const unread = await eventually(async () => (await app.inject({ url: `/v1/rooms/${room.id}`, headers: bob.auth })).json().unreadCount, (n) => n === 1)
  t.equal(unread, 1, 'the later message still counts unread')
})

t.test('a user who leaves a room stops getting its events', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const left = await createGroupRoom(app, alice, 'left', [bob])
  const kept = await createGroupRoom(app, alice, 'kept', [bob])
  const client = await connect(t, bob)
  const leave = await client.request({ method: 'DELETE', path: `/v1/rooms/${left.id}/members/me` })
  t.equal(leave.status, 204)
  await sendAndStore(app, alice, left.id, 'after leaving')
  await sendAndStore(app, alice, kept.id, 'in the room bob kept')
  t.equal((await client.next((frame) => frame.type === 'message.created')).data.text, 'in the room bob kept')
})

t.test('members joining and leaving, and read watermarks moving, are pushed to those concerned', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'members')
  const aliceSocket = await connect(t, alice)
  const bobSocket = await connect(t, bob)

  t.equal((await bobSocket.request({ method: 'PUT', path: `/v1/rooms/${room.id}/members/me` })).status, 200)
  t.same((await aliceSocket.next((frame) => frame.type === 'member.joined')).data, { roomId: room.id, userId: bob.id })
  t.same((await bobSocket.next((frame) => frame.type === 'member.joined')).data, { roomId: room.id, userId: bob.id }, 'the joiner too')

  const sent = await sendAndStore(app, alice, room.id, 'read me')
  t.equal((await bobSocket.request({ method: 'POST', path: `/v1/rooms/${room.id}/read`, body: { seq: sent.seq } })).status, 200)
  t.same((await bobSocket.next((frame) => frame.type === 'read.updated')).data, { roomId: room.id, seq: sent.seq })

  // An acknowledgement through a cursor, applied by a worker, is pushed the same way.
  const second = await sendAndStore(app, alice, room.id, 'acknowledge me')
  const { cursor } = (await getUnseen(app, bob)).json()
  await getUnseen(app, bob, { cursor })
  t.same((await bobSocket.next((frame) => frame.type === 'read.updated')).data, { roomId: room.id, seq: second.seq })

  t.equal((await bobSocket.request({ method: 'DELETE', path: `/v1/rooms/${room.id}/members/me` })).status, 204)
  t.same((await aliceSocket.next((frame) => frame.type === 'member.left')).data, { roomId: room.id, userId: bob.id })
})

t.test('every route of the OpenAPI document answers the same over the socket as over HTTP', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'table', [bob])
  const taskId = (await sendToRoom(app, alice, room.id, 'a task to look at')).json().taskId
  await sendAndStore(app, alice, room.id, 'history')
  const client = await connect(t, alice)
  const document = (await app.inject('/openapi.json')).json()
  // What cannot answer the same twice: a stream (a frame cannot open one), counters, and logging out everywhere (it ends
  // the socket's own login); the document itself only differs in nothing, so it stays.
  const skipped = new Set(['/v1/events', '/metrics', '/v1/auth/logout-all'])
  let compared = 0
  for (const [template, methods] of Object.entries<Record<string, { requestBody?: unknown }>>(document.paths)) {
    if (skipped.has(template)) continue
    for (const [method, operation] of Object.entries(methods)) {
      // Reads see real data; writes get a body the schema refuses, or a room that does not exist, so both runs answer alike.
      const writes = method !== 'get'
      const path = template
        .replace('{taskId}', taskId)
        .replace('{id}', String(writes && operation.requestBody === undefined ? 999_999 : template.startsWith('/v1/users') ? bob.id : room.id))
      const body = operation.requestBody === undefined ? undefined : { unexpected: true }
      const http = await app.inject({ method: method.toUpperCase() as 'GET', url: path, headers: alice.auth, ...(body !== undefined && { payload: body }) })
      const overSocket = await client.request({ method, path, ...(body !== undefined && { body }) })
      const httpBody = http.body === '' ? null : /json/.test(String(http.headers['content-type'])) ? http.json() : http.body
      t.equal(overSocket.status, http.statusCode, `${method.toUpperCase()} ${path}: status`)
      t.same(overSocket.body, httpBody, `${method.toUpperCase()} ${path}: body`)
      compared++
    }
  }
  t.ok(compared >= 20, `${compared} routes compared`)
  const sent = await client.request({ method: 'POST', path: `/v1/rooms/${room.id}/messages`, body: { text: 'sent over the socket' } })
  t.match(sent, { status: 202, body: { state: 'queued' } })

  // Frames that are not requests answer a problem, and the socket goes on.
  t.match(await client.request({ method: 'GET' } as never), { status: 400, body: { code: 'VALIDATION_FAILED' } })
  t.match(await client.request({ method: 'NOT A METHOD', path: '/v1/rooms' }), { status: 400, body: { code: 'VALIDATION_FAILED' } })
  client.socket.send('not json')
  t.match(await client.next((frame) => frame.type === 'error'), { body: { status: 400, code: 'INVALID_JSON' } })
  t.equal((await client.request({ method: 'GET', path: '/v1/users/me' })).status, 200)
})

t.test('a slow consumer is closed with 4429 instead of growing memory', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'slow', [bob])
  for (let i = 0; i < 19; i++) await sendToRoom(app, alice, room.id, 'x'.repeat(4000))
  await sendAndStore(app, alice, room.id, 'x'.repeat(4000))
  const client = await connect(t, bob)
  // Bob stops reading; his requests' answers pile up in the server's buffer for him.
  client.socket.pause()
  for (let i = 0; i < 400; i++) client.socket.send(JSON.stringify({ id: `big-${i}`, method: 'GET', path: `/v1/rooms/${room.id}/messages` }))
  await eventually(openSockets, (open) => open === 0, 20_000)
  client.socket.resume()
  t.equal(await client.closed, 4429)
})

t.test('logging out closes the sockets of that login only', async (t) => {
  const bob = await user()
  const otherLogin = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: bob.username, password: bob.password } })).json()
  const loggedOut = await connect(t, bob)
  const kept = await openSocket(wsUrl, ['pigeon.v1', `bearer.${otherLogin.accessToken}`])
  t.teardown(() => kept.socket.terminate())
  await kept.next()
  const logout = await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: bob.refreshToken } })
  t.equal(logout.statusCode, 204)
  t.equal(await loggedOut.closed, 4401)
  t.equal((await kept.request({ method: 'GET', path: '/v1/users/me' })).status, 200, 'the other login goes on')
})

t.test('shutting the server down closes sockets with 1001 and ends event streams', async (t) => {
  const bob = await user()
  const client = await connect(t, bob)
  const events = await openSse(`${wsUrl.replace('ws:', 'http:').replace('/v1/ws', '/v1/events')}?seconds=60`, bob.auth)
  t.teardown(events.close)
  t.same(await events.next(), { retry: 3000 })
  await app.close()
  t.equal(await client.closed, 1001, 'going away: reconnect elsewhere with the last cursor')
  let ended = await events.next()
  while (ended !== undefined && ended.comment === 'heartbeat') ended = await events.next()
  t.equal(ended, undefined, 'the event stream ended')
})
