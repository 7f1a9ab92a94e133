import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { testApp, type TestUser } from './helper.js'
import { createGroupRoom, sendToRoom, waitersReach } from './messaging-helper.js'
import { openSocket, type SocketClient } from './socket-client.js'

// No workers: a send's task stays queued, so a frame waiting on it (`?wait=30`) stays in flight until something ends it.
const config = await testConfig(t, { REGISTER_LIMIT_PER_ADDRESS: '3', REGISTER_LIMIT_WINDOW_SECONDS: '600', SOCKET_REQUESTS_IN_FLIGHT: '16' })
const app = await testApp(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const wsUrl = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/ws`

let users = 0
/** A user registered from an address of its own (so the registrations below start from nothing), logged in. */
async function user (): Promise<TestUser> {
  const username = `framer_${++users}`
  const password = 'Passw0rd!'
  const registered = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username, password }, remoteAddress: `198.51.100.${users}` })
  const tokens = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username, password } })).json()
  return { id: registered.json().id, username, password, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, auth: { authorization: `Bearer ${tokens.accessToken}` } }
}

/** A socket from `localAddress` (any 127.x.y.z reaches the server; to it, each is another client). */
async function connect (t: Test, who: TestUser, localAddress = '127.0.0.1', query = ''): Promise<SocketClient> {
  const client = await openSocket(`${wsUrl}${query}`, ['pigeon.v1', `bearer.${who.accessToken}`], { localAddress })
  t.teardown(() => client.socket.terminate())
  t.match(await client.next(), { type: 'ready' })
  return client
}

let registrations = 0
const registration = () => ({ username: `signup_${++registrations}`, password: 'Passw0rd!' })
const registerOver = async (client: SocketClient) => (await client.request({ method: 'POST', path: '/v1/auth/register', body: registration() })).status
const registerFrom = async (remoteAddress: string) => (await app.inject({ method: 'POST', url: '/v1/auth/register', payload: registration(), remoteAddress })).statusCode

t.test('an address locked out over HTTP is locked out over its socket too', async (t) => {
  const client = await connect(t, await user(), '127.0.0.2')
  for (let i = 0; i < 3; i++) t.equal(await registerFrom('127.0.0.2'), 201)
  t.equal(await registerFrom('127.0.0.2'), 429, 'locked over HTTP')
  t.equal(await registerOver(client), 429, 'and over the socket from the same address')
})

t.test('one socket client\'s requests count against its own address, not everyone\'s', async (t) => {
  const client = await connect(t, await user(), '127.0.0.3')
  for (let i = 0; i < 3; i++) t.equal(await registerOver(client), 201)
  t.equal(await registerOver(client), 429, 'the socket client is limited')
  t.equal(await registerFrom('127.0.0.1'), 201, 'a client at 127.0.0.1 over HTTP is not')
  t.equal(await registerOver(await connect(t, await user(), '127.0.0.4')), 201, 'nor another socket client')
})

t.test('a request frame cannot open an event stream or a socket', async (t) => {
  const client = await connect(t, await user())
  const stream = await client.request({ method: 'GET', path: '/v1/events?seconds=3600' })
  t.match(stream, { status: 400, body: { status: 400, code: 'NOT_OVER_SOCKET' } })
  const socket = await client.request({ method: 'GET', path: '/v1/ws' })
  t.match(socket, { status: 426, body: { status: 426, code: 'UPGRADE_REQUIRED' } })
  t.equal((await client.request({ method: 'GET', path: '/v1/users/me' })).status, 200, 'the socket goes on')
})

t.test('GET /v1/ws without an upgrade answers 426 problem+json', async (t) => {
  const plain = await fetch(wsUrl.replace('ws:', 'http:'))
  t.equal(plain.status, 426)
  t.match(plain.headers.get('content-type'), /^application\/problem\+json/)
  t.equal(plain.headers.get('upgrade'), 'websocket')
  t.match(await plain.json(), { status: 426, code: 'UPGRADE_REQUIRED' })
})

t.test('a bad cursor on the socket is an error frame and a 4400 close, as REST answers 400', async (t) => {
  const who = await user()
  const client = await openSocket(`${wsUrl}?cursor=not-a-cursor`, ['pigeon.v1', `bearer.${who.accessToken}`])
  t.match(await client.next(), { type: 'error', body: { status: 400, code: 'INVALID_CURSOR' } })
  t.equal(await client.closed, 4400)
})

t.test('a socket\'s requests end when it closes', async (t) => {
  const who = await user()
  const room = await createGroupRoom(app, who, 'held')
  const { taskId } = (await sendToRoom(app, who, room.id, 'never stored here')).json()
  const client = await connect(t, who)
  client.socket.send(JSON.stringify({ id: 'held', method: 'GET', path: `/v1/tasks/${taskId}?wait=30` }))
  await waitersReach(app, 'task', 1)
  client.socket.terminate()
  await waitersReach(app, 'task', 0)
  t.pass('the request held for the closed socket ended with it')
})

t.test('requests in flight per socket are bounded: 10,000 quick frames hold 16 and answer the rest 429', async (t) => {
  const who = await user()
  const room = await createGroupRoom(app, who, 'flood')
  const { taskId } = (await sendToRoom(app, who, room.id, 'waited on')).json()
  const client = await connect(t, who)
  const heapBefore = process.memoryUsage().heapUsed
  for (let i = 0; i < 10_000; i++) client.socket.send(JSON.stringify({ id: i, method: 'GET', path: `/v1/tasks/${taskId}?wait=30` }))
  // Frames are taken in order: once the last one is answered, every one before it was run or refused.
  const last = await client.request({ method: 'GET', path: '/v1/users/me' })
  const refused = []
  for (let i = 0; i < 10_000 - 16; i++) refused.push(await client.next((frame) => typeof frame.id === 'number' && frame.id < 10_000))
  t.ok(refused.every((frame) => frame.status === 429 && isProblemBody(frame.body)), 'the frames over the bound are 429 problems')
  t.equal(last.status, 429, 'the bound still holds at the end')
  await waitersReach(app, 'task', 16)
  const grown = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20
  t.ok(grown < 64, `the heap grew ${grown.toFixed(1)} MiB (client and server together), within a generous 64`)
  client.socket.terminate()
  await waitersReach(app, 'task', 0)
})

function isProblemBody (body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { code?: unknown }).code === 'RATE_LIMITED'
}
