import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createCursors } from '../api/cursor.js'
import { testConfig } from '../harness/test-config.js'
import { editedCursor, sealedBy, unsealedCursor } from './cursor-kit.js'
import { createUser, isProblem, testApp, testDb, testWorkers } from './helper.js'
import {
  createGroupRoom, eventually, getUnseen, readWatermark, sendAllAndStore, sendAndStore, sendToRoom, waitForTask, waitersReach,
  type MessageBody
} from './messaging-helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)

let userCount = 0
/** Fresh users per test: the feed spans all of a user's rooms. */
async function users (n: number) {
  return await Promise.all(Array.from({ length: n }, () => createUser(app, `user_${++userCount}`)))
}

function ids (items: MessageBody[]): number[] {
  return items.map((m) => m.id)
}

t.test('I never see my own messages; a lost response loses nothing', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'mine', [bob])
  const fromAnn = await sendAllAndStore(app, ann, room.id, ['a1', 'a2'])
  const fromBob = await sendAndStore(app, bob, room.id, 'b1')

  const annFeed = await getUnseen(app, ann)
  t.equal(annFeed.statusCode, 200)
  t.same(annFeed.json().items, [fromBob], 'only the others\' messages')
  t.type(annFeed.json().cursor, 'string')

  const first = await getUnseen(app, bob)
  const again = await getUnseen(app, bob)
  t.same(first.json().items, fromAnn, 'oldest first, with roomId and seq')
  t.same(again.json(), first.json(), 'without the cursor the same messages come again')
  t.equal(await readWatermark(db, room.id, bob.id), 0, 'reading the feed alone marks nothing seen')
})

t.test('passing the cursor acknowledges exactly what its response held', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'acks', [bob])
  const sent = await sendAllAndStore(app, ann, room.id, ['one', 'two'])

  const first = (await getUnseen(app, bob)).json()
  t.same(ids(first.items), ids(sent))
  const acked = await getUnseen(app, bob, { cursor: first.cursor })
  t.equal(acked.statusCode, 200)
  t.same(acked.json(), { items: [], changes: [], cursor: first.cursor }, 'nothing new: an empty list and the same cursor')

  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 2)
  t.pass('the mark-seen worker moved the watermark to the acknowledged seq')
  t.same((await getUnseen(app, bob)).json().items, [], 'once applied, they do not come again, cursor or not')
  t.equal((await app.inject({ url: `/v1/rooms/${room.id}`, headers: bob.auth })).json().unreadCount, 0)
})

t.test('a message that lands between a response and its ack is neither lost nor marked seen', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'between', [bob])
  await sendAllAndStore(app, ann, room.id, ['m1', 'm2'])
  const first = (await getUnseen(app, bob)).json()
  t.same(first.items.map((m: MessageBody) => m.seq), [1, 2])

  // Watch the stored watermark the whole time: it must never pass what was acknowledged.
  let highest = 0
  const stopWatching = new AbortController()
  const watcher = (async () => {
    while (!stopWatching.signal.aborted) {
      highest = Math.max(highest, await readWatermark(db, room.id, bob.id) ?? 0)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()

  const late = await sendAllAndStore(app, ann, room.id, ['m3', 'm4'])
  const second = await getUnseen(app, bob, { cursor: first.cursor })
  t.same(second.json().items, late, 'the call that acknowledges returns what came since')
  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 2)

  // The second response is lost: passing the first cursor again still returns m3 and m4.
  const retried = await getUnseen(app, bob, { cursor: first.cursor })
  t.same(retried.json().items, late)
  await new Promise((resolve) => setTimeout(resolve, 300))
  stopWatching.abort()
  await watcher
  t.equal(highest, 2, 'the watermark never passed the acknowledged seq')

  await getUnseen(app, bob, { cursor: second.json().cursor })
  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 4)
  t.pass('acknowledging the second response moves it on')
})

t.test('paging with a small limit across rooms never skips or repeats a message', async (t) => {
  const [reader, s1, s2] = await users(3)
  if (reader === undefined || s1 === undefined || s2 === undefined) throw new Error('users')
  const rooms = await Promise.all([
    createGroupRoom(app, s1, 'all three', [reader, s2]),
    createGroupRoom(app, s1, 's1 only', [reader]),
    createGroupRoom(app, s2, 's2 only', [reader])
  ])
  const perRoom = 12
  const total = rooms.length * perRoom

  // Sends race through the workers while the reader pages: commits interleave across rooms.
  const sending = Promise.all(rooms.flatMap((room, r) => Array.from({ length: perRoom }, async (_, i) => {
    const sender = r === 2 || (r === 0 && i % 2 === 1) ? s2 : s1
    const res = await sendToRoom(app, sender, room.id, `room ${r} message ${i}`)
    return await waitForTask(app, sender, res.json().taskId)
  })))

  const received: MessageBody[] = []
  let cursor: string | undefined
  const deadline = Date.now() + 20_000
  while (received.length < total && Date.now() < deadline) {
    const res = await getUnseen(app, reader, { cursor, limit: 4, wait: 2 })
    t.equal(res.statusCode, 200)
    const page = res.json()
    t.ok(page.items.length <= 4)
    received.push(...page.items)
    cursor = page.cursor
  }
  const tasks = await sending
  t.ok(tasks.every((task) => task.state === 'completed'))

  t.equal(received.length, total, 'every message once')
  t.equal(new Set(ids(received)).size, total, 'no repeats')
  t.same(new Set(ids(received)), new Set(tasks.map((task) => task.result.id)))
  for (const room of rooms) {
    const seqs = received.filter((m) => m.roomId === room.id).map((m) => m.seq)
    t.same(seqs, Array.from({ length: perRoom }, (_, i) => i + 1), `room ${room.id} in seq order, no gap`)
  }
  const last = await getUnseen(app, reader, { cursor })
  t.same(last.json().items, [])
})

t.test('a malformed cursor is 400 INVALID_CURSOR', async (t) => {
  const [ann] = await users(1)
  if (ann === undefined) throw new Error('users')
  const bad = [
    'not a cursor',
    Buffer.from('{"k":"seen"').toString('base64url'),
    unsealedCursor('seq', 5),
    unsealedCursor('seen', [1, 2]),
    unsealedCursor('seen', { 0: 1 }),
    unsealedCursor('seen', { abc: 1 }),
    unsealedCursor('seen', { 1: -1 }),
    unsealedCursor('seen', { 1: 1.5 }),
    unsealedCursor('seen', null)
  ]
  for (const cursor of bad) {
    const res = await getUnseen(app, ann, { cursor })
    t.ok(isProblem(res, 400), `400 for ${cursor}`)
    t.equal(res.json().code, 'INVALID_CURSOR')
  }
  for (const query of [{ limit: 0 }, { limit: 201 }, { wait: 31 }, { wait: -1 }]) {
    t.ok(isProblem(await getUnseen(app, ann, query), 400), `400 for ${JSON.stringify(query)}`)
  }
  t.ok(isProblem(await app.inject('/v1/messages/unseen'), 401))
})

t.test('a member who left sees nothing more from that room', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'left behind', [bob])
  const other = await createGroupRoom(app, ann, 'still in', [bob])
  await sendAndStore(app, ann, room.id, 'before leaving')
  const before = (await getUnseen(app, bob)).json()
  t.equal(before.items.length, 1)

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: bob.auth })).statusCode, 204)
  await sendAndStore(app, ann, room.id, 'after leaving')
  const stillIn = await sendAndStore(app, ann, other.id, 'elsewhere')

  const after = await getUnseen(app, bob, { cursor: before.cursor })
  t.equal(after.statusCode, 200, 'a cursor naming a left room is fine')
  t.same(after.json().items, [stillIn])
  t.same((await getUnseen(app, bob)).json().items, [stillIn], 'nothing from the left room, old or new')
})

t.test('a new member does not get the room\'s old history as unseen', async (t) => {
  const [ann, newcomer] = await users(2)
  if (ann === undefined || newcomer === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'history')
  await sendAllAndStore(app, ann, room.id, ['old 1', 'old 2', 'old 3'])

  t.equal((await app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/me`, headers: newcomer.auth })).statusCode, 200)
  t.same((await getUnseen(app, newcomer)).json().items, [])
  const fresh = await sendAndStore(app, ann, room.id, 'welcome')
  t.same((await getUnseen(app, newcomer)).json().items, [fresh])
})

t.test('marking a room read takes its messages out of the feed', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'read', [bob])
  const sent = await sendAllAndStore(app, ann, room.id, ['r1', 'r2', 'r3'])
  await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: bob.auth, payload: { seq: 2 } })
  t.same((await getUnseen(app, bob)).json().items, sent.slice(2))
})

t.test('a waiting poll answers when a message arrives, or empty when time is up', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'waiting', [bob])
  const empty = (await getUnseen(app, bob)).json()
  t.same(empty.items, [])

  const idlePoll = getUnseen(app, bob, { cursor: empty.cursor, wait: 1 })
  await waitersReach(app, 'feed', 1)
  const idle = await idlePoll
  t.same(idle.json(), { items: [], changes: [], cursor: empty.cursor }, 'held, then empty with the same cursor')
  await waitersReach(app, 'feed', 0)

  // A wait that ran out would answer nothing: a message in the answer is the one that woke it.
  const polling = getUnseen(app, bob, { cursor: empty.cursor, wait: 30 })
  await waitersReach(app, 'feed', 1)
  const sent = await sendAndStore(app, ann, room.id, 'wake up')
  const woken = await polling
  t.same(woken.json().items, [sent])
})

t.test('a waiting poll applies its acknowledgement at once, not when the wait ends', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'ack-then-wait', [bob])
  await sendAllAndStore(app, ann, room.id, ['one', 'two'])
  const first = (await getUnseen(app, bob)).json()

  let answered = false
  const poll = getUnseen(app, bob, { cursor: first.cursor, wait: 5 }).then((response) => { answered = true; return response })
  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 2, 3000)
  t.notOk(answered, 'the watermark moved while the poll was still waiting')
  const rooms = await app.inject({ url: `/v1/rooms/${room.id}`, headers: bob.auth })
  t.equal(rooms.json().unreadCount, 0, 'the room counts nothing unread')
  const response = await poll
  t.same(response.json(), { items: [], changes: [], cursor: first.cursor })
})

/** The room as its member sees it: its unread count comes from the stored watermark. */
async function unreadCount (user: { auth: { authorization: string } }, roomId: number): Promise<number> {
  return (await app.inject({ url: `/v1/rooms/${roomId}`, headers: user.auth })).json().unreadCount
}

t.test('a cursor claiming more than a room holds never skips a message that came later', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'over-claimed', [bob])
  await sendAllAndStore(app, ann, room.id, ['one', 'two'])
  const claim = new Map([[room.id, 99_999]])

  // Sealed by this deployment (as after a database restore): taken, but no further than the room held.
  const overClaiming = sealedBy(config).sealFeed(bob.id, { seenUpTo: claim, changesAfter: claim })
  const first = await getUnseen(app, bob, { cursor: overClaiming })
  t.equal(first.statusCode, 200)
  t.same(first.json().items, [], 'what the room held counts as acknowledged')
  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 2)

  const later = await sendAndStore(app, ann, room.id, 'three')
  t.equal(await unreadCount(bob, room.id), 1, 'the later message is unread')
  const next = await getUnseen(app, bob, { cursor: first.json().cursor })
  t.same(next.json().items, [later], 'and comes in the feed')

  // Held in a long poll, the claim is not taken again against the messages that arrive meanwhile.
  const polling = getUnseen(app, bob, { cursor: overClaiming, wait: 30 })
  await waitersReach(app, 'feed', 1)
  const woken = await sendAndStore(app, ann, room.id, 'four')
  t.same((await polling).json().items, [woken], 'a waiting poll is woken by it')

  // Unsealed, from before cursors were sealed: refused, so nothing is acknowledged.
  for (const cursor of [unsealedCursor('feed', { s: { [room.id]: 99_999 }, c: { [room.id]: 0 } }), unsealedCursor('seen', { [room.id]: 99_999 })]) {
    const refused = await getUnseen(app, bob, { cursor })
    t.ok(isProblem(refused, 400), 'an unsealed cursor past the room is 400')
    t.equal(refused.json().code, 'INVALID_CURSOR')
  }
  t.same(ids((await getUnseen(app, bob, { cursor: next.json().cursor })).json().items), [woken.id], 'nothing was lost')
})

t.test('an edited, forged or borrowed cursor is 400 INVALID_CURSOR; an unsealed one within the rooms still works', async (t) => {
  const [ann, bob] = await users(2)
  if (ann === undefined || bob === undefined) throw new Error('users')
  const room = await createGroupRoom(app, ann, 'forgeries', [bob])
  await sendAllAndStore(app, ann, room.id, ['one', 'two', 'three'])
  const { cursor } = (await getUnseen(app, bob, { limit: 1 })).json()
  t.match(cursor, /^[\w-]+\.[\w-]{22}$/, 'a cursor is its content and its seal')

  const refused = {
    'an edited claim': editedCursor(cursor, (content) => ({ ...content, v: { ...content.v, s: { [room.id]: 99_999 } } })),
    'another user\'s': editedCursor(cursor, (content) => ({ ...content, u: ann.id })),
    'an edited seal': `${cursor.slice(0, -1)}${cursor.endsWith('A') ? 'B' : 'A'}`,
    'sealed with another key': createCursors([randomBytes(32)]).sealFeed(bob.id, { seenUpTo: new Map([[room.id, 1]]), changesAfter: new Map() }),
    'a seal too many': `${cursor}.${cursor.split('.')[1]}`,
    'ann\'s own cursor': (await getUnseen(app, ann)).json().cursor
  }
  for (const [name, forged] of Object.entries(refused)) {
    const res = await getUnseen(app, bob, { cursor: forged })
    t.ok(isProblem(res, 400), `${name}: 400`)
    t.equal(res.json().code, 'INVALID_CURSOR', name)
  }
  t.equal(await readWatermark(db, room.id, bob.id), 0, 'none of them acknowledged anything')
  t.equal(await unreadCount(bob, room.id), 3)

  const unsealed = await getUnseen(app, bob, { cursor: unsealedCursor('feed', { s: { [room.id]: 1 }, c: { [room.id]: 0 } }) })
  t.equal(unsealed.statusCode, 200, 'a cursor from before sealing that claims what the room holds is taken')
  t.same(unsealed.json().items.map((m: MessageBody) => m.seq), [2, 3])
  t.match(unsealed.json().cursor, /\./, 'and answered with a sealed one')
  await eventually(() => readWatermark(db, room.id, bob.id), (seq) => seq === 1)
})
