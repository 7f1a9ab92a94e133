import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { checkedFetch, createUser, isProblem, testApp, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, getUnseen, sendToRoom, waitersReach, waitForTask, type MessageBody } from './messaging-helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
testWorkers(t, config)

let users = 0
async function user (target: FastifyInstance = app): Promise<TestUser> {
  return await createUser(target, `poller_${++users}`)
}

async function groupRoom (owner: TestUser, members: TestUser[], target: FastifyInstance = app): Promise<number> {
  return (await createGroupRoom(target, owner, 'room', members)).id
}

async function send (sender: TestUser, roomId: number, text: string, target: FastifyInstance = app): Promise<string> {
  const response = await sendToRoom(target, sender, roomId, text)
  if (response.statusCode !== 202) throw new Error(`send: ${response.statusCode} ${response.body}`)
  return response.json().taskId
}

/**
 * One unseen-feed request. A poll that ran out its wait answers what it read before waiting, so a poll with a long
 * wait that answers a message sent after it started was woken by it: no clock needed to tell.
 */
async function poll (poller: TestUser, query: { wait?: number, cursor?: string } = {}) {
  const response = await getUnseen(app, poller, query)
  const body: { items: MessageBody[], cursor: string } = response.json()
  return { response, body }
}

function texts (body: { items: Array<{ text: string | null }> }): Array<string | null> {
  return body.items.map((item) => item.text)
}

t.test('a waiting poll returns as soon as a message arrives in one of my rooms', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const roomId = await groupRoom(alice, [bob])
  const polling = poll(bob, { wait: 30 })
  await waitersReach(app, 'feed', 1)
  await send(alice, roomId, 'wake up, bob')
  const { response, body } = await polling
  t.equal(response.statusCode, 200)
  t.same(texts(body), ['wake up, bob'], 'woken by the message: a wait that ran out would answer nothing')
  t.match(body.items[0], { roomId, seq: 1, senderId: alice.id })
  t.type(body.cursor, 'string')
})

t.test('nothing new: wait=1 answers 200, an empty list and the same cursor, after the wait', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const roomId = await groupRoom(alice, [bob])
  await send(alice, roomId, 'one')
  const first = await poll(bob, { wait: 10 })
  t.same(texts(first.body), ['one'])

  const held = poll(bob, { wait: 1, cursor: first.body.cursor })
  await waitersReach(app, 'feed', 1)
  const second = await held
  t.equal(second.response.statusCode, 200)
  t.same(second.body.items, [])
  t.equal(second.body.cursor, first.body.cursor, 'the very cursor that was passed')
  await waitersReach(app, 'feed', 0)

  const heldWithoutCursor = poll(await user(), { wait: 1 })
  await waitersReach(app, 'feed', 1)
  const withoutCursor = await heldWithoutCursor
  t.equal(withoutCursor.response.statusCode, 200)
  t.same(withoutCursor.body.items, [])
})

t.test('wait above 30 s is a 400 problem, on the feed and on tasks', async (t) => {
  const alice = await user()
  const feed = await app.inject({ method: 'GET', url: '/v1/messages/unseen?wait=31', headers: alice.auth })
  t.ok(isProblem(feed, 400), feed.body)
  const task = await app.inject({ method: 'GET', url: '/v1/tasks/abc?wait=31', headers: alice.auth })
  t.ok(isProblem(task, 400), task.body)
  const negative = await app.inject({ method: 'GET', url: '/v1/messages/unseen?wait=-1', headers: alice.auth })
  t.ok(isProblem(negative, 400), negative.body)
})

t.test('no lost wake-up: a message sent while the poll starts is always delivered', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const roomId = await groupRoom(alice, [bob])
  let cursor: string | undefined
  for (let round = 1; round <= 8; round++) {
    // Stagger the send around the poll's query: before it, during it, after it.
    const [result] = await Promise.all([
      poll(bob, cursor === undefined ? { wait: 30 } : { wait: 30, cursor }),
      sleep(round % 4).then(() => send(alice, roomId, `round ${round}`))
    ])
    t.same(texts(result.body), [`round ${round}`], `round ${round} delivered (a lost wake-up would answer nothing)`)
    cursor = result.body.cursor
  }
})

t.test('a message to a room wakes only its members', async (t) => {
  const [alice, bob, carol] = [await user(), await user(), await user()]
  const roomId = await groupRoom(alice, [bob])
  let carolDone = false
  const carolPoll = poll(carol, { wait: 5 }).finally(() => { carolDone = true })
  const bobPoll = poll(bob, { wait: 10 })
  await waitersReach(app, 'feed', 2)
  await send(alice, roomId, 'members only')

  const bobs = await bobPoll
  t.same(texts(bobs.body), ['members only'])
  t.notOk(carolDone, 'the non-member is still waiting when the member woke')
  const carols = await carolPoll
  t.equal(carols.response.statusCode, 200)
  t.same(carols.body.items, [], 'and ran out its wait with nothing')
})

t.test('a client that hangs up leaves no waiter behind', async (t) => {
  const server = await testApp(t, config)
  await server.listen({ host: '127.0.0.1', port: 0 })
  const { port } = server.server.address() as AddressInfo
  const alice = await user(server)

  const controller = new AbortController()
  const request = checkedFetch(`http://127.0.0.1:${port}/v1/messages/unseen?wait=30`, { headers: alice.auth, signal: controller.signal })
  await waitersReach(server, 'feed', 1)
  controller.abort()
  await t.rejects(request, { name: 'AbortError' })
  // Its 30 s are far from over: only the hang-up can have removed it.
  await waitersReach(server, 'feed', 0)
  t.pass('the waiter is gone')
})

t.test('joining and leaving while a poll waits', async (t) => {
  t.test('a waiting user who joins a room gets the next message sent to it', async (t) => {
    const [alice, walter, ursula] = [await user(), await user(), await user()]
    const roomId = await groupRoom(alice, [walter])
    // Stored before the join, not only accepted: joining counts what the room holds then as seen.
    await waitForTask(app, alice, await send(alice, roomId, 'before the join'))
    const polling = poll(ursula, { wait: 30 })
    await waitersReach(app, 'feed', 1)

    const join = await app.inject({ method: 'PUT', url: `/v1/rooms/${roomId}/members/me`, headers: ursula.auth })
    t.equal(join.statusCode, 200)
    await send(alice, roomId, 'after the join')
    const { body } = await polling
    t.same(texts(body), ['after the join'], 'woken by it; the earlier message counts as seen for a new member')
  })

  t.test('a waiting user who leaves a room is not woken by it', async (t) => {
    const [alice, walter, victor] = [await user(), await user(), await user()]
    const roomId = await groupRoom(alice, [walter, victor])
    const victorPoll = poll(victor, { wait: 3 })
    await waitersReach(app, 'feed', 1)

    const leave = await app.inject({ method: 'DELETE', url: `/v1/rooms/${roomId}/members/me`, headers: victor.auth })
    t.equal(leave.statusCode, 204)
    await send(alice, roomId, 'after the leave')
    const walters = await poll(walter, { wait: 10 })
    t.same(texts(walters.body), ['after the leave'], 'the message was stored and woke the members')

    const victors = await victorPoll
    t.equal(victors.response.statusCode, 200)
    t.same(victors.body.items, [], 'the leaver ran out its wait with nothing')
  })
})

t.test('task wait', async (t) => {
  t.test('returns as soon as the send is stored, with the message', async (t) => {
    const [alice, bob] = [await user(), await user()]
    const roomId = await groupRoom(alice, [bob])
    const taskId = await send(alice, roomId, 'tracked')
    const task = await waitForTask(app, alice, taskId, 30)
    t.match(task, { id: taskId, state: 'completed', error: null, result: { roomId, seq: 1, senderId: alice.id, text: 'tracked' } })
  })

  t.test('someone else\'s task is 404 at once, not after the wait', async (t) => {
    const [alice, bob] = [await user(), await user()]
    const roomId = await groupRoom(alice, [bob])
    const taskId = await send(alice, roomId, 'mine')
    const response = app.inject({ method: 'GET', url: `/v1/tasks/${taskId}?wait=30`, headers: bob.auth })
    // Either it answers, or it registers as a waiter on the task: whichever comes first says which it did.
    const first = await Promise.race([response.then(() => 'answered'), waitersReach(app, 'task', 1, 30_000).then(() => 'waited')])
    t.equal(first, 'answered', 'answered without waiting')
    t.ok(isProblem(await response, 404))
  })

  t.test('returns when the send fails, with state failed and the reason', async (t) => {
    // A deployment of its own, so no worker runs until the sender has left the room.
    const ownConfig = await testConfig(t)
    const own = await testApp(t, ownConfig)
    const [alice, bob] = [await user(own), await user(own)]
    const roomId = await groupRoom(alice, [bob], own)
    const taskId = await send(alice, roomId, 'sent, then left', own)
    const leave = await own.inject({ method: 'DELETE', url: `/v1/rooms/${roomId}/members/me`, headers: alice.auth })
    t.equal(leave.statusCode, 204)

    const queued = await own.inject({ method: 'GET', url: `/v1/tasks/${taskId}?wait=1`, headers: alice.auth })
    t.equal(queued.json().state, 'queued', 'with no worker, wait=1 ends with the task still queued')

    const outcome = waitForTask(own, alice, taskId, 30)
    await waitersReach(own, 'task', 1)
    testWorkers(t, ownConfig)
    t.match(await outcome, { id: taskId, state: 'failed', result: null, error: { code: 'NOT_A_MEMBER' } }, 'woken by the failure')
  })
})

t.test('closing the server answers a waiting poll with 200 and an empty list first', async (t) => {
  const server = await testApp(t, config)
  await server.listen({ host: '127.0.0.1', port: 0 })
  const { port } = server.server.address() as AddressInfo
  const alice = await user(server)

  const started = Date.now()
  const request = checkedFetch(`http://127.0.0.1:${port}/v1/messages/unseen?wait=30`, { headers: alice.auth })
  await waitersReach(server, 'feed', 1)
  await server.close()
  const response = await request
  t.equal(response.status, 200)
  const body = await response.json() as { items: unknown[], cursor: string }
  t.same(body.items, [])
  t.type(body.cursor, 'string')
  // The one thing a clock tells here: the poll did not run out its own 30 s wait, the shutdown answered it.
  t.ok(Date.now() - started < 30_000, 'answered at shutdown, before its wait ran out')
})
