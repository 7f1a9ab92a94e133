import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, eventually, sendToRoom, waitForTask } from './messaging-helper.js'

// Each limit gets a deployment of its own (database, Redis prefix) with a small limit and a short window: the test
// sees it bite, then polls until the window has passed and the same client gets through again. Limits on credentials
// get 6 s: each attempt hashes a password (slow on purpose), and on a busy machine a few of them outlasted a 2 s
// window before the limit was reached, so the test saw no 429.
async function limited (t: Test, overrides: Record<string, string>): Promise<FastifyInstance> {
  return await testApp(t, await testConfig(t, overrides))
}

function isRateLimited (t: Test, response: LightMyRequestResponse, limit: number): void {
  t.ok(isProblem(response, 429), `429 problem+json: ${response.body}`)
  t.equal(response.json().code, 'RATE_LIMITED')
  t.ok(Number(response.headers['retry-after']) >= 0, 'Retry-After')
  t.equal(response.headers['ratelimit-limit'], String(limit), 'RateLimit-Limit')
  t.equal(response.headers['ratelimit-remaining'], '0', 'RateLimit-Remaining')
  t.ok(Number(response.headers['ratelimit-reset']) >= 0, 'RateLimit-Reset')
}

const logIn = (app: FastifyInstance, username: string, password: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username, password } })

/** Polls until the answer is not a 429 (the window passed) and returns it. */
const released = async (request: () => Promise<LightMyRequestResponse>) =>
  await eventually(request, (response) => response.statusCode !== 429, 30_000)

t.test('log-in attempts per username: wrong guesses use them up, then even the right password waits', async (t) => {
  const app = await limited(t, { LOGIN_LIMIT_PER_USERNAME: '4', LOGIN_LIMIT_WINDOW_SECONDS: '6' })
  const ada = await createUser(app, 'ada_guess') // one attempt: the log-in
  for (let i = 0; i < 3; i++) t.equal((await logIn(app, 'ADA_guess', `wrong-${i}`)).statusCode, 401, 'a wrong password, in any letter case')
  isRateLimited(t, await logIn(app, 'ada_guess', ada.password), 4)
  const other = await createUser(app, 'bob_guess')
  t.equal((await logIn(app, other.username, other.password)).statusCode, 200, 'another username is not affected')
  t.equal((await released(() => logIn(app, 'ada_guess', ada.password))).statusCode, 200, 'after the window the right password works')
})

t.test('log-in attempts per address: one machine cannot try username after username', async (t) => {
  const app = await limited(t, { LOGIN_LIMIT_PER_ADDRESS: '4', LOGIN_LIMIT_WINDOW_SECONDS: '6' })
  const ada = await createUser(app, 'ada_spray')
  for (const username of ['nobody_1', 'nobody_2', 'nobody_3']) t.equal((await logIn(app, username, 'Passw0rd!')).statusCode, 401)
  isRateLimited(t, await logIn(app, 'nobody_4', 'Passw0rd!'), 4)
  isRateLimited(t, await logIn(app, ada.username, ada.password), 4)
  t.equal((await released(() => logIn(app, ada.username, ada.password))).statusCode, 200)
})

t.test('registrations per address', async (t) => {
  const app = await limited(t, { REGISTER_LIMIT_PER_ADDRESS: '2', REGISTER_LIMIT_WINDOW_SECONDS: '6' })
  const register = (username: string) => app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username, password: 'Passw0rd!' } })
  t.equal((await register('reg_1')).statusCode, 201)
  const second = await register('reg_2')
  t.equal(second.statusCode, 201)
  t.equal(second.headers['ratelimit-remaining'], '0', 'an answer within the limit says what is left')
  isRateLimited(t, await register('reg_3'), 2)
  t.equal((await released(() => register('reg_3'))).statusCode, 201)
})

for (const [name, overrides] of [
  ['a burst', { SEND_LIMIT_BURST: '3', SEND_LIMIT_BURST_WINDOW_SECONDS: '2' }],
  ['the sustained rate', { SEND_LIMIT_SUSTAINED: '3', SEND_LIMIT_SUSTAINED_WINDOW_SECONDS: '2' }]
] as const) {
  t.test(`sends per user: ${name}`, async (t) => {
    const app = await limited(t, overrides)
    const [ann, bob] = await Promise.all([createUser(app, 'ann_sends'), createUser(app, 'bob_sends')]) as [TestUser, TestUser]
    const room = await createGroupRoom(app, ann, 'flood', [bob])
    for (let i = 0; i < 3; i++) t.equal((await sendToRoom(app, ann, room.id, `m${i}`)).statusCode, 202)
    isRateLimited(t, await sendToRoom(app, ann, room.id, 'one too many'), 3)
    t.equal((await sendToRoom(app, bob, room.id, 'hi')).statusCode, 202, 'another user still sends')
    t.equal((await released(() => sendToRoom(app, ann, room.id, 'later'))).statusCode, 202)
  })
}

t.test('edits and deletes count with sends towards the same per-user limit', async (t) => {
  // A window long enough that the send's count cannot lapse while its worker stores it (release is shown above).
  const config = await testConfig(t, { SEND_LIMIT_BURST: '3', SEND_LIMIT_BURST_WINDOW_SECONDS: '600' })
  const app = await testApp(t, config)
  testWorkers(t, config)
  const ann = await createUser(app, 'ann_edits')
  const room = await createGroupRoom(app, ann, 'edits', [])
  const sent = await waitForTask(app, ann, (await sendToRoom(app, ann, room.id, 'first')).json().taskId, 30)
  t.equal(sent.state, 'completed')
  const change = (method: 'PATCH' | 'DELETE') => app.inject({ method, url: `/v1/messages/${sent.result.id}`, headers: ann.auth, ...(method === 'PATCH' ? { payload: { text: 'edited' } } : {}) })
  t.equal((await change('PATCH')).statusCode, 202, 'an edit is the second write')
  t.equal((await change('PATCH')).statusCode, 202, 'and another the third')
  isRateLimited(t, await change('DELETE'), 3)
})

t.test('rooms created and members added per user: the limit bites, then releases', async (t) => {
  const app = await limited(t, { ROOM_LIMIT_PER_USER: '2', ROOM_LIMIT_WINDOW_SECONDS: '5' })
  const [ann, bob, cat] = await Promise.all(['ann_rooms', 'bob_rooms', 'cat_rooms'].map((name) => createUser(app, name))) as [TestUser, TestUser, TestUser]
  const create = (user: TestUser, name: string) => app.inject({ method: 'POST', url: '/v1/rooms', headers: user.auth, payload: { name, memberIds: [] } })
  const room = (await create(ann, 'first')).json()
  const add = () => app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/${bob.id}`, headers: ann.auth })
  t.equal((await add()).statusCode, 200, 'an add is the second')
  isRateLimited(t, await create(ann, 'third'), 2)
  isRateLimited(t, await app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/${cat.id}`, headers: ann.auth }), 2)
  t.equal((await create(bob, 'bob\'s own')).statusCode, 201, 'another user still creates rooms')
  t.equal((await released(() => create(ann, 'later'))).statusCode, 201)
})

t.test('the queue dashboard: unproven credentials per address; an admin\'s own polling is not counted', async (t) => {
  const config = await testConfig(t, { ADMIN_AUTH_LIMIT_PER_ADDRESS: '3', ADMIN_AUTH_LIMIT_WINDOW_SECONDS: '6' })
  const app = await testApp(t, config)
  const admin = await createUser(app, 'queue_boss', 'boss-Passw0rd!')
  await testDb(t, config).updateTable('users').set({ is_admin: true }).where('id', '=', admin.id).execute()
  const dashboard = (password: string) => app.inject({
    url: '/admin/queues/api/queues',
    headers: { authorization: `Basic ${Buffer.from(`queue_boss:${password}`).toString('base64')}` }
  })
  for (let i = 0; i < 3; i++) t.equal((await dashboard(`guess-${i}`)).statusCode, 401)
  isRateLimited(t, await dashboard('boss-Passw0rd!'), 3)
  t.equal((await released(() => dashboard('boss-Passw0rd!'))).statusCode, 200)
  for (let i = 0; i < 6; i++) t.equal((await dashboard('boss-Passw0rd!')).statusCode, 200, 'proven credentials are not counted')
})

t.test('with Redis away the limits are not enforced, and nothing fails because of them', async (t) => {
  const app = await limited(t, { REDIS_URL: 'redis://127.0.0.1:1', LOGIN_LIMIT_PER_USERNAME: '1', REGISTER_LIMIT_PER_ADDRESS: '1' })
  const register = (username: string) => app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username, password: 'Passw0rd!' } })
  t.equal((await register('cut_1')).statusCode, 201)
  t.equal((await register('cut_2')).statusCode, 201)
  for (let i = 0; i < 3; i++) t.equal((await logIn(app, 'cut_1', 'Passw0rd!')).statusCode, 200)
})

t.test('long polls per user: one beyond the cap answers the oldest at once', async (t) => {
  const app = await limited(t, { LONG_POLLS_PER_USER: '2' })
  const ann = await createUser(app, 'ann_polls')
  const poll = (wait: number) => app.inject({ url: `/v1/messages/unseen?wait=${wait}`, headers: ann.auth })
  const held = async () => Number(/^pigeon_longpoll_waiters\{kind="feed"\} (\d+)$/m.exec((await app.inject({ url: '/metrics' })).body)?.[1])
  const oldest = poll(30)
  await eventually(held, (size) => size === 1)
  let secondAnswered = false
  const second = poll(25).then((response) => { secondAnswered = true; return response })
  await eventually(held, (size) => size === 2)
  const third = poll(25)
  const answer = await oldest
  t.equal(answer.statusCode, 200)
  t.same(answer.json().items, [], 'the oldest poll answers with what it has')
  t.notOk(secondAnswered, 'while the newer ones, with shorter waits, are still held')
  t.equal(await held(), 2, 'never more than the cap held')
  await app.close() // answers the polls still held
  t.equal((await second).statusCode, 200)
  t.equal((await third).statusCode, 200)
})

t.test('each counter is a Redis key named for its limit and whose count it is', async (t) => {
  const config = await testConfig(t)
  const app = await testApp(t, config)
  await createUser(app, 'ada_keys')
  const redis = new Redis(config.REDIS_URL)
  t.teardown(() => redis.quit())
  const keys = (await redis.keys(`${config.REDIS_PREFIX}:rate-limit:*`)).sort()
  t.same(keys, [
    `${config.REDIS_PREFIX}:rate-limit:login-address:127.0.0.1`,
    `${config.REDIS_PREFIX}:rate-limit:login-username:ada_keys`,
    `${config.REDIS_PREFIX}:rate-limit:register-address:127.0.0.1`
  ])
})
