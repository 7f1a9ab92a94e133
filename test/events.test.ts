import type { AddressInfo } from 'node:net'
import t, { type Test as Tap } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { editedCursor, sealedBy, unsealedCursor } from './cursor-kit.js'
import { createUser, isProblem, testApp, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, eventually, getUnseen, sendAllAndStore, sendAndStore, type MessageBody } from './messaging-helper.js'
import { openSse, type SseStream } from './sse-client.js'

const config = await testConfig(t, { PUSH_HEARTBEAT_SECONDS: '0.2' })
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

let users = 0
async function user (): Promise<TestUser> {
  return await createUser(app, `listener_${++users}`)
}

async function stream (t: Tap, listener: TestUser, headers: Record<string, string> = {}, query = ''): Promise<SseStream> {
  const opened = await openSse(`${base}/v1/events?seconds=60${query}`, { ...listener.auth, ...headers })
  t.teardown(opened.close)
  return opened
}

function messageOf (event: { data?: string } | undefined): MessageBody {
  return JSON.parse(event?.data ?? 'null')
}

t.test('a stream pushes each new message with the feed cursor as its id', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'sse', [bob])
  const events = await stream(t, bob)
  t.equal(events.status, 200)
  t.match(events.headers.get('content-type'), /^text\/event-stream/)
  t.same(await events.next(), { retry: 3000 }, 'a retry hint comes first')

  const sent = await sendAndStore(app, alice, room.id, 'pushed to bob')
  const event = await events.nextEvent()
  t.equal(event?.event, 'message.created')
  t.same(messageOf(event), sent, 'the same JSON the REST routes answer')
  const polled = await getUnseen(app, bob)
  t.equal(event?.id, polled.json().cursor, 'the id is the cursor the long poll gives for the same messages')

  const heartbeat = await events.next()
  t.equal(heartbeat?.comment, 'heartbeat', 'a heartbeat comment while nothing happens')
})

t.test('Last-Event-ID after a dropped connection resumes exactly: nothing lost, nothing repeated', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'resume', [bob])
  const first = await stream(t, bob)
  for (const text of ['one', 'two', 'three', 'four']) await sendAndStore(app, alice, room.id, text)
  const one = await first.nextEvent()
  const two = await first.nextEvent()
  t.same([messageOf(one).text, messageOf(two).text], ['one', 'two'])
  // The connection drops after two events (the other two may be on the wire, never read); EventSource sends the last id it saw.
  first.close()

  const second = await stream(t, bob, { 'last-event-id': String(two?.id) })
  const three = await second.nextEvent()
  const four = await second.nextEvent()
  t.same([messageOf(three).text, messageOf(four).text], ['three', 'four'], 'resumes right after the last event read')

  // Reconnecting acknowledged one and two: a worker marks them seen, and the long poll no longer gives them.
  const unseen = await eventually(async () => (await getUnseen(app, bob)).json(), (body) => body.items.length === 2)
  t.same(unseen.items.map((m: MessageBody) => m.text), ['three', 'four'])
})

t.test('?cursor= starts from an unseen-feed cursor when there is no Last-Event-ID', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'cursor', [bob])
  await sendAndStore(app, alice, room.id, 'already polled')
  const { cursor } = (await getUnseen(app, bob)).json()
  await sendAndStore(app, alice, room.id, 'new')
  const events = await stream(t, bob, {}, `&cursor=${cursor}`)
  t.equal(messageOf(await events.nextEvent()).text, 'new')
})

t.test('a user who leaves a room stops getting its events', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const left = await createGroupRoom(app, alice, 'left', [bob])
  const kept = await createGroupRoom(app, alice, 'kept', [bob])
  const events = await stream(t, bob)
  await sendAndStore(app, alice, left.id, 'before leaving')
  t.equal(messageOf(await events.nextEvent()).text, 'before leaving')

  const leave = await app.inject({ method: 'DELETE', url: `/v1/rooms/${left.id}/members/me`, headers: bob.auth })
  t.equal(leave.statusCode, 204)
  await sendAndStore(app, alice, left.id, 'after leaving')
  await sendAndStore(app, alice, kept.id, 'in the room bob kept')
  const next = messageOf(await events.nextEvent())
  t.equal(next.text, 'in the room bob kept', 'the message in the room he left never came, though it was stored first')
})

t.test('a browser EventSource passes its token as access_token', async (t) => {
  const bob = await user()
  const events = await openSse(`${base}/v1/events?seconds=1&access_token=${bob.accessToken}`)
  t.teardown(events.close)
  t.equal(events.status, 200)
  const noToken = await openSse(`${base}/v1/events?seconds=1`)
  t.teardown(noToken.close)
  t.equal(noToken.status, 401)
})

t.test('the stream ends after ?seconds; a malformed Last-Event-ID is 400', async (t) => {
  const bob = await user()
  const ended = await app.inject({ url: '/v1/events?seconds=1', headers: bob.auth })
  t.equal(ended.statusCode, 200)
  t.match(ended.body, /^retry: 3000\n\n(: heartbeat\n\n)+$/)
  const broken = await app.inject({ url: '/v1/events', headers: { ...bob.auth, 'last-event-id': 'not-a-cursor' } })
  t.ok(isProblem(broken, 400))
  t.equal(broken.json().code, 'INVALID_CURSOR')
})

t.test('a Last-Event-ID claiming more than a room holds never skips a later message; an edited one is 400', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'over-claimed', [bob])
  await sendAllAndStore(app, alice, room.id, ['one', 'two'])
  const claim = new Map([[room.id, 99_999]])

  const events = await stream(t, bob, { 'last-event-id': sealedBy(config).sealFeed(bob.id, { seenUpTo: claim, changesAfter: claim }) })
  t.equal(events.status, 200)
  const later = await sendAndStore(app, alice, room.id, 'three')
  const pushed = await events.nextEvent()
  t.same(messageOf(pushed), later, 'the message that came later is pushed')
  const unread = await eventually(async () => (await app.inject({ url: `/v1/rooms/${room.id}`, headers: bob.auth })).json().unreadCount, (n) => n === 1)
  t.equal(unread, 1, 'and counted unread')

  const refused = [
    editedCursor(String(pushed?.id), (content) => ({ ...content, v: { ...content.v, s: { [room.id]: 99_999 } } })),
    unsealedCursor('feed', { s: { [room.id]: 99_999 }, c: { [room.id]: 0 } })
  ]
  for (const lastEventId of refused) {
    const res = await app.inject({ url: '/v1/events', headers: { ...bob.auth, 'last-event-id': lastEventId } })
    t.ok(isProblem(res, 400), 'an edited or over-claiming unsealed id is 400')
    t.equal(res.json().code, 'INVALID_CURSOR')
  }
  t.same((await getUnseen(app, bob, { cursor: String(pushed?.id) })).json().items, [], 'nothing was skipped or acknowledged past the last event')
})
