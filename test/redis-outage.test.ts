import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import t from 'tap'
import { createUser, isProblem, testApp, testConfig } from './helper.js'

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/** A Redis of this test's own, so stopping it cannot disturb anything else. */
async function startRedis (port: number) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] })
    let output = ''
    probe.stdout.on('data', (chunk) => { output += chunk })
    await once(probe, 'exit')
    if (output.includes('PONG')) return child
  }
  throw new Error('redis-server did not start')
}

const port = await freePort()
let redis = await startRedis(port)
t.teardown(() => { redis.kill('SIGKILL') })
const config = await testConfig(t, { REDIS_URL: `redis://127.0.0.1:${port}` })
const app = await testApp(t, config)
const ada = await createUser(app, 'ada_outage')
const bob = await createUser(app, 'bob_outage')
const room = (await app.inject({ method: 'POST', url: '/v1/rooms', headers: ada.auth, payload: { name: 'outage', memberIds: [bob.id] } })).json()

t.test('with Redis stopped, a send answers 503 at once and queues nothing; Postgres reads go on', async (t) => {
  redis.kill('SIGKILL')
  await once(redis, 'exit')

  const started = Date.now()
  const send = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'anyone?' } })
  t.ok(isProblem(send, 503), 'a problem+json 503')
  t.equal(send.json().code, 'QUEUE_UNAVAILABLE')
  t.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms, not hanging`)

  const direct = await app.inject({ method: 'POST', url: `/v1/users/${bob.id}/messages`, headers: ada.auth, payload: { text: 'hi' } })
  t.ok(isProblem(direct, 503), 'a direct send too')

  const history = await app.inject({ url: `/v1/rooms/${room.id}/messages`, headers: bob.auth })
  t.equal(history.statusCode, 200)
  t.same(history.json().items, [], 'nothing half-written')
  t.equal((await app.inject({ url: '/v1/rooms', headers: bob.auth })).statusCode, 200)
  t.equal((await app.inject({ url: '/v1/users', headers: bob.auth })).statusCode, 200)
  const unseen = await app.inject({ url: '/v1/messages/unseen', headers: bob.auth })
  t.equal(unseen.statusCode, 200)
  t.same(unseen.json().items, [])
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'down', postgres: 'ok', redis: 'down' })
})

t.test('when Redis comes back, sending works again', async (t) => {
  redis = await startRedis(port)
  let status = 0
  for (let i = 0; i < 50 && status !== 202; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    status = (await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'back' } })).statusCode
  }
  t.equal(status, 202)
})

t.test('an API started while Redis is down still serves reads, and refuses sends quickly', async (t) => {
  const deadPort = await freePort()
  const offline = await testApp(t, { ...config, REDIS_URL: `redis://127.0.0.1:${deadPort}` })
  const users = await offline.inject({ url: '/v1/users', headers: ada.auth })
  t.equal(users.statusCode, 200)
  t.equal(users.headers['x-cache'], 'miss')
  const started = Date.now()
  const send = await offline.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'hello?' } })
  t.ok(isProblem(send, 503))
  t.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`)
})
