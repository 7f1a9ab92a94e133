import t from 'tap'
import { editedCursor, unsealedCursor } from './cursor-kit.js'
import { createUser, isProblem } from './helper.js'
import {
  changeAndApply, createGroupRoom, readWatermark, runningDeployment, sendAllAndStore, sendAndStore, sendToRoom, sendToUser, waitForTask,
  type MessageBody
} from './messaging-helper.js'

const { app, db, ann, bob, cat } = await runningDeployment(t)

async function memberIdsStored (roomId: number): Promise<number[]> {
  const rows = await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).orderBy('user_id').execute()
  return rows.map((row) => row.user_id)
}

t.test('creating a group room makes the creator a member', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1/rooms', headers: ann.auth, payload: { name: '  book club ', memberIds: [bob.id, bob.id, ann.id] } })
  t.equal(res.statusCode, 201)
  const room = res.json()
  t.equal(res.headers.location, `/v1/rooms/${room.id}`)
  t.match(room, { kind: 'group', name: 'book club', unreadCount: 0, lastMessage: null })
  t.same(room.memberIds, [ann.id, bob.id].sort((a, b) => a - b))
  t.ok(!Number.isNaN(Date.parse(room.createdAt)))
  t.same(await memberIdsStored(room.id), room.memberIds, 'stored members')

  const alone = await app.inject({ method: 'POST', url: '/v1/rooms', headers: ann.auth, payload: { name: 'just me' } })
  t.equal(alone.statusCode, 201)
  t.same(alone.json().memberIds, [ann.id])
})

t.test('creating a room with unknown members or a bad name is refused and stores nothing', async (t) => {
  const before = await db.selectFrom('rooms').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()

  const unknown = await app.inject({ method: 'POST', url: '/v1/rooms', headers: ann.auth, payload: { name: 'ghosts', memberIds: [bob.id, 987654] } })
  t.ok(isProblem(unknown, 422))
  t.equal(unknown.json().code, 'UNKNOWN_USERS')

  for (const payload of [{ name: '   ', memberIds: [] }, { name: '', memberIds: [] }, { memberIds: [bob.id] }, { name: 'x'.repeat(101) }, { name: 'ok', memberIds: [0] }, { name: 'ok', extra: 1 }, { name: 'nul\u0000' }]) {
    const res = await app.inject({ method: 'POST', url: '/v1/rooms', headers: ann.auth, payload })
    t.ok(isProblem(res, 400), `400 for ${JSON.stringify(payload)}`)
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }

  const noToken = await app.inject({ method: 'POST', url: '/v1/rooms', payload: { name: 'anon' } })
  t.ok(isProblem(noToken, 401))

  const after = await db.selectFrom('rooms').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
  t.equal(after.n, before.n, 'no room stored')
})

t.test('my rooms list each room with its unread count and last message', async (t) => {
  const dan = await createUser(app, 'dan')
  const eve = await createUser(app, 'eve')
  const shared = await createGroupRoom(app, dan, 'shared', [eve])
  const quiet = await createGroupRoom(app, dan, 'quiet')
  await createGroupRoom(app, eve, 'not for dan')
  const [, second] = await sendAllAndStore(app, eve, shared.id, ['one', 'two'])
  await sendAndStore(app, dan, shared.id, 'my own reply')

  const res = await app.inject({ url: '/v1/rooms', headers: dan.auth })
  t.equal(res.statusCode, 200)
  const { items, nextCursor } = res.json()
  t.equal(nextCursor, null)
  t.same(items.map((room: { id: number }) => room.id), [shared.id, quiet.id], 'only my rooms, in id order')
  t.equal(items[0].unreadCount, 2, 'my own message is not unread')
  t.match(items[0].lastMessage, { roomId: shared.id, seq: 3, senderId: dan.id, text: 'my own reply' })
  t.match(items[1], { unreadCount: 0, lastMessage: null })
  t.ok(second !== undefined && second.seq === 2)

  const eveView = (await app.inject({ url: '/v1/rooms', headers: eve.auth })).json().items
  t.equal(eveView.find((room: { id: number }) => room.id === shared.id).unreadCount, 1)

  // Pages by room id.
  const first = await app.inject({ url: '/v1/rooms?limit=1', headers: dan.auth })
  t.same(first.json().items.map((room: { id: number }) => room.id), [shared.id])
  t.type(first.json().nextCursor, 'string')
  const next = await app.inject({ url: `/v1/rooms?limit=1&cursor=${first.json().nextCursor}`, headers: dan.auth })
  t.same(next.json().items.map((room: { id: number }) => room.id), [quiet.id])
  t.equal(next.json().nextCursor, null)
})

t.test('one room: members see it, anyone else gets 404 everywhere', async (t) => {
  const room = await createGroupRoom(app, ann, 'private', [bob])
  const stored = await sendAndStore(app, bob, room.id, 'hello')

  const own = await app.inject({ url: `/v1/rooms/${room.id}`, headers: ann.auth })
  t.equal(own.statusCode, 200)
  t.match(own.json(), { id: room.id, kind: 'group', name: 'private', unreadCount: 1, lastMessage: stored })

  const outsider = [
    await app.inject({ url: `/v1/rooms/${room.id}`, headers: cat.auth }),
    await app.inject({ url: `/v1/rooms/${room.id}/messages`, headers: cat.auth }),
    await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: cat.auth, payload: { seq: 1 } }),
    await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: cat.auth }),
    await app.inject({ url: '/v1/rooms/999999', headers: ann.auth })
  ]
  for (const res of outsider) t.ok(isProblem(res, 404), `404 for ${res.raw.req.method} ${res.raw.req.url}`)
  // The room is public (the default): a send says how to join rather than that it does not exist.
  const send = await sendToRoom(app, cat, room.id, 'let me in')
  t.ok(isProblem(send, 403))
  t.equal(send.json().code, 'JOIN_REQUIRED')
  t.equal(await readWatermark(db, room.id, cat.id), undefined, 'the outsider was not made a member')

  const direct = await sendToUser(app, ann, bob.id, 'just us')
  const { result } = await waitForTask(app, ann, direct.json().taskId)
  const joinDirect = await app.inject({ method: 'PUT', url: `/v1/rooms/${result.roomId}/members/me`, headers: cat.auth })
  t.ok(isProblem(joinDirect, 404), 'a direct room cannot be joined')
  t.same(await memberIdsStored(result.roomId), [ann.id, bob.id].sort((a, b) => a - b))

  t.ok(isProblem(await app.inject({ url: '/v1/rooms/abc', headers: ann.auth }), 400))
})

t.test('joining a group room is idempotent; leaving locks the room again', async (t) => {
  const room = await createGroupRoom(app, ann, 'open house')
  await sendAndStore(app, ann, room.id, 'before cat came')

  const join = await app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/me`, headers: cat.auth })
  t.equal(join.statusCode, 200)
  t.same(join.json().memberIds, [ann.id, cat.id].sort((a, b) => a - b))
  t.equal(join.json().unreadCount, 0, 'earlier messages count as read for a new member')
  const again = await app.inject({ method: 'PUT', url: `/v1/rooms/${room.id}/members/me`, headers: cat.auth })
  t.equal(again.statusCode, 200)
  t.same(again.json().memberIds, join.json().memberIds)
  t.same(await memberIdsStored(room.id), join.json().memberIds)
  t.equal(await readWatermark(db, room.id, cat.id), 1)

  const history = await app.inject({ url: `/v1/rooms/${room.id}/messages`, headers: cat.auth })
  t.equal(history.json().items.length, 1, 'a member reads the history')

  const leave = await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: cat.auth })
  t.equal(leave.statusCode, 204)
  t.equal(leave.body, '')
  t.same(await memberIdsStored(room.id), [ann.id])
  t.ok(isProblem(await app.inject({ url: `/v1/rooms/${room.id}`, headers: cat.auth }), 404))
  t.ok(isProblem(await app.inject({ url: `/v1/rooms/${room.id}/messages`, headers: cat.auth }), 404))
  t.ok(isProblem(await sendToRoom(app, cat, room.id, 'still here?'), 403), 'a left member cannot send: the public room says to join again')
  t.ok(isProblem(await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: cat.auth }), 404))
  const listed = (await app.inject({ url: '/v1/rooms', headers: cat.auth })).json().items
  t.notOk(listed.some((r: { id: number }) => r.id === room.id), 'no longer listed')

  t.ok(isProblem(await app.inject({ method: 'PUT', url: '/v1/rooms/999999/members/me', headers: cat.auth }), 404))
})

t.test('a direct room cannot be left', async (t) => {
  const res = await sendToUser(app, bob, cat.id, 'hi cat')
  const { result } = await waitForTask(app, bob, res.json().taskId)
  const leave = await app.inject({ method: 'DELETE', url: `/v1/rooms/${result.roomId}/members/me`, headers: cat.auth })
  t.ok(isProblem(leave, 409))
  t.equal(leave.json().code, 'CANNOT_LEAVE_DIRECT_ROOM')
  t.same(await memberIdsStored(result.roomId), [bob.id, cat.id].sort((a, b) => a - b))
})

t.test('history is newest first and pages by seq without overlap', async (t) => {
  const room = await createGroupRoom(app, ann, 'history', [bob])
  const texts = Array.from({ length: 25 }, (_, i) => `message ${i + 1}`)
  await sendAllAndStore(app, bob, room.id, texts)

  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const url: string = `/v1/rooms/${room.id}/messages?limit=10${cursor === null ? '' : `&cursor=${cursor}`}`
    const res = await app.inject({ url, headers: ann.auth })
    t.equal(res.statusCode, 200)
    const page = res.json()
    for (const message of page.items) {
      t.match(message, { roomId: room.id, senderId: bob.id, text: `message ${message.seq}`, editedAt: null })
    }
    seen.push(...page.items.map((m: { seq: number }) => m.seq))
    cursor = page.nextCursor
    pages++
  } while (cursor !== null && pages < 10)
  t.equal(pages, 3)
  t.same(seen, Array.from({ length: 25 }, (_, i) => 25 - i), 'every seq once, newest first')

  const whole = await app.inject({ url: `/v1/rooms/${room.id}/messages?limit=200`, headers: ann.auth })
  t.equal(whole.json().items.length, 25)
  t.equal(whole.json().nextCursor, null)

  const firstPage = (await app.inject({ url: `/v1/rooms/${room.id}/messages?limit=10`, headers: ann.auth })).json()
  const edited = editedCursor(firstPage.nextCursor, (content) => ({ ...content, v: 5 }))
  for (const query of ['limit=201', 'limit=0', 'limit=-1', 'cursor=not-a-cursor', `cursor=${unsealedCursor('id', 5)}`, `cursor=${unsealedCursor('seq', -1)}`, `cursor=${edited}`]) {
    const res = await app.inject({ url: `/v1/rooms/${room.id}/messages?${query}`, headers: ann.auth })
    t.ok(isProblem(res, 400), `400 for ${query}`)
  }
  const foreign = await app.inject({ url: `/v1/rooms/${room.id}/messages?cursor=${unsealedCursor('id', 5)}`, headers: ann.auth })
  t.equal(foreign.json().code, 'INVALID_CURSOR', 'another list\'s cursor is refused')
  const editedAnswer = await app.inject({ url: `/v1/rooms/${room.id}/messages?cursor=${edited}`, headers: ann.auth })
  t.equal(editedAnswer.json().code, 'INVALID_CURSOR', 'an edited cursor is refused')
  const unsealed = await app.inject({ url: `/v1/rooms/${room.id}/messages?limit=3&cursor=${unsealedCursor('seq', 5)}`, headers: ann.auth })
  t.same(unsealed.json().items.map((m: { seq: number }) => m.seq), [4, 3, 2], 'a cursor from before cursors were sealed still pages')

  const empty = await createGroupRoom(app, ann, 'empty')
  t.same((await app.inject({ url: `/v1/rooms/${empty.id}/messages`, headers: ann.auth })).json(), { items: [], nextCursor: null })
})

t.test('history shows each message exactly as a task\'s result does, whatever its text, edited or deleted', async (t) => {
  // History's JSON is written by Postgres, a task's by the API's serializer: the two must not differ in anything.
  const room = await createGroupRoom(app, ann, 'as shown', [bob])
  const texts = ['plain', 'quotes " and \\ a backslash', 'controls \u0001\u001f\u007f\t\r\nand lines', 'a bird 🐦, \u2028 and \u2029', '<b>&amp;</b> \'single\'', 'to edit', 'to delete']
  const stored = await sendAllAndStore(app, bob, room.id, texts)
  const edited = await changeAndApply(app, bob, (stored[5] as MessageBody).id, 'edited: ✓')
  const deleted = await changeAndApply(app, bob, (stored[6] as MessageBody).id, null)
  const expected = [...stored.slice(0, 5), edited.result, deleted.result].reverse()

  const history = await app.inject({ url: `/v1/rooms/${room.id}/messages`, headers: ann.auth })
  t.equal(history.statusCode, 200)
  t.match(history.headers['content-type'], /^application\/json/)
  const items = history.json().items
  t.same(items, expected, 'the same fields and values')
  t.same(items.map((item: object) => Object.keys(item)), expected.map((item: object) => Object.keys(item)), 'in the same order')
  t.equal(history.json().nextCursor, null)
})

t.test('marking read moves the watermark forward only, clamped to the last message', async (t) => {
  const room = await createGroupRoom(app, ann, 'reading', [bob])
  await sendAllAndStore(app, bob, room.id, ['1', '2', '3', '4', '5'])
  const read = (seq: number) => app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: ann.auth, payload: { seq } })

  const three = await read(3)
  t.equal(three.statusCode, 200)
  t.match(three.json(), { id: room.id, unreadCount: 2 })
  t.equal(await readWatermark(db, room.id, ann.id), 3)

  const back = await read(1)
  t.equal(back.statusCode, 200)
  t.equal(back.json().unreadCount, 2, 'a lower seq changes nothing')
  t.equal(await readWatermark(db, room.id, ann.id), 3)

  const beyond = await read(1000)
  t.equal(beyond.json().unreadCount, 0)
  t.equal(await readWatermark(db, room.id, ann.id), 5, 'clamped to the last seq')

  await sendAndStore(app, bob, room.id, '6')
  const listed = (await app.inject({ url: `/v1/rooms/${room.id}`, headers: ann.auth })).json()
  t.equal(listed.unreadCount, 1, 'a message after the clamp is unread')

  for (const payload of [{ seq: -1 }, { seq: 'x' }, {}, { seq: 1, extra: true }]) {
    t.ok(isProblem(await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: ann.auth, payload }), 400), `400 for ${JSON.stringify(payload)}`)
  }
  t.equal(await readWatermark(db, room.id, ann.id), 5)
  t.equal(await readWatermark(db, room.id, bob.id), 0, 'other members keep their own watermark')
})
