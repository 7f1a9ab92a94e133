import t from 'tap'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { answersUnhung, startRedis } from './faults.js'
import { settle } from './messaging-helper.js'
import { createUser, isProblem, testApp } from './helper.js'

let redis = await startRedis()
t.teardown(() => redis.kill())
const config = await testConfig(t, { REDIS_URL: redis.url })
const app = await testApp(t, config)
const ada = await createUser(app, 'ada_outage')
const bob = await createUser(app, 'bob_outage')
const room = (await app.inject({ method: 'POST', url: '/v1/rooms', headers: ada.auth, payload: { name: 'outage', memberIds: [bob.id] } })).json()

t.test('with Redis stopped, a send answers 503 without hanging and queues nothing; Postgres reads go on', async (t) => {
  await redis.kill()
  // Once the API has seen the connection drop. A send racing the drop itself is recorded and kept (a 202 whose task
  // a worker's reconciler hands over later: see the fault tests), which is not what this test is about.
  await settle(async () => (await app.inject('/health/ready')).statusCode, (status) => status === 503, 10_000)

  const send = await answersUnhung(app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'anyone?' } }))
  t.ok(isProblem(send, 503), 'a problem+json 503, not a hang')
  t.equal(send.json().code, 'QUEUE_UNAVAILABLE')

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
  redis = await startRedis(redis.port)
  const send = () => app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'back' } })
  const sent = await settle(send, (response) => response.statusCode === 202, 30_000)
  t.equal(sent.statusCode, 202)
})

t.test('an API started while Redis is down still serves reads, and refuses sends quickly', async (t) => {
  const deadPort = await freePort()
  const offline = await testApp(t, { ...config, REDIS_URL: `redis://127.0.0.1:${deadPort}` })
  const users = await offline.inject({ url: '/v1/users', headers: ada.auth })
  t.equal(users.statusCode, 200)
  t.equal(users.headers['x-cache'], 'miss')
  const send = await answersUnhung(offline.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: ada.auth, payload: { text: 'hello?' } }))
  t.ok(isProblem(send, 503), 'a problem+json 503, not a hang')
})
