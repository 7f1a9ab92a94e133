import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb, testWorkers, type TestUser } from './helper.js'
import { eventually, sendAndStore, sendToRoom } from './messaging-helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)

const [owner, member, outsider, newcomer] = await Promise.all(['own', 'mem', 'out', 'new'].map((name) => createUser(app, `${name}_vis`))) as TestUser[] as [TestUser, TestUser, TestUser, TestUser]

async function createRoom (app: FastifyInstance, by: TestUser, payload: Record<string, unknown>) {
  const response = await app.inject({ method: 'POST', url: '/v1/rooms', headers: by.auth, payload })
  if (response.statusCode !== 201) throw new Error(`create room: ${response.statusCode} ${response.body}`)
  return response.json()
}

const publicRooms = async (as: TestUser, query = '') =>
  (await app.inject({ url: `/v1/rooms/public${query}`, headers: as.auth })).json()

const secret = await createRoom(app, owner, { name: 'secret plans', memberIds: [member.id], visibility: 'private' })
const lobby = await createRoom(app, owner, { name: 'Lobby', memberIds: [] })
const secretMessage = await sendAndStore(app, owner, secret.id, 'for members only')

t.test('a new room is public unless said otherwise; its creator is its owner', async (t) => {
  t.match(lobby, { visibility: 'public', ownerIds: [owner.id], memberIds: [owner.id] })
  t.match(secret, { visibility: 'private', ownerIds: [owner.id], memberIds: [owner.id, member.id].sort((a, b) => a - b) })
})

t.test('a private room is invisible and unjoinable to outsiders', async (t) => {
  const asOutsider = [
    { method: 'GET', url: `/v1/rooms/${secret.id}` },
    { method: 'GET', url: `/v1/rooms/${secret.id}/messages` },
    { method: 'PUT', url: `/v1/rooms/${secret.id}/members/me` },
    { method: 'PUT', url: `/v1/rooms/${secret.id}/members/${outsider.id}` },
    { method: 'POST', url: `/v1/rooms/${secret.id}/read`, payload: { seq: 1 } },
    { method: 'PATCH', url: `/v1/rooms/${secret.id}`, payload: { visibility: 'public' } }
  ] as const
  for (const request of asOutsider) {
    const response = await app.inject({ ...request, headers: outsider.auth })
    t.ok(isProblem(response, 404), `${request.method} ${request.url}`)
    t.equal(response.json().detail, `There is no room ${secret.id}.`, 'the same answer as a room that does not exist')
  }
  t.ok(isProblem(await sendToRoom(app, outsider, secret.id, 'let me in'), 404), 'send')
  const unseen = (await app.inject({ url: '/v1/messages/unseen', headers: outsider.auth })).json()
  t.notOk(unseen.items.some((message: { roomId: number }) => message.roomId === secret.id), 'unseen')
  const listed = await publicRooms(outsider)
  t.notOk(listed.items.some((room: { id: number }) => room.id === secret.id), 'not in the public list')
  t.same((await publicRooms(outsider, '?q=secret')).items, [], 'not found by name either')
  t.same((await publicRooms(member, '?q=secret')).items, [], 'not even for a member: the list is of public rooms')
  const stored = await db.selectFrom('room_members').select('user_id').where('room_id', '=', secret.id).execute()
  t.equal(stored.length, 2, 'nobody got in')
})

t.test('public rooms are listed with member counts and joinable by anyone', async (t) => {
  const found = await publicRooms(outsider, '?q=LOB')
  t.match(found, { items: [{ id: lobby.id, name: 'Lobby', memberCount: 1, joined: false }], nextCursor: null })
  const join = await app.inject({ method: 'PUT', url: `/v1/rooms/${lobby.id}/members/me`, headers: outsider.auth })
  t.equal(join.statusCode, 200)
  t.match(join.json(), { visibility: 'public', ownerIds: [owner.id] })
  t.match((await publicRooms(outsider, '?q=lobby')).items, [{ memberCount: 2, joined: true }])

  const extra: Array<{ id: number }> = []
  for (const suffix of ['a', 'b', 'c']) extra.push(await createRoom(app, newcomer, { name: `page ${suffix}` }))
  const first = await publicRooms(newcomer, '?q=page&limit=2')
  t.same(first.items.map((room: { id: number }) => room.id), extra.slice(0, 2).map((room) => room.id))
  const second = await publicRooms(newcomer, `?q=page&limit=2&cursor=${first.nextCursor}`)
  t.same(second.items.map((room: { id: number }) => room.id), [extra[2]?.id])
  t.equal(second.nextCursor, null)
})

t.test('a send to a public room I have not joined says to join it; a private one stays not found', async (t) => {
  const stranger = await createUser(app, 'stranger_vis')
  const notJoined = await sendToRoom(app, stranger, lobby.id, 'hello?')
  t.ok(isProblem(notJoined, 403), 'a public room: 403')
  t.equal(notJoined.json().code, 'JOIN_REQUIRED')
  t.match(notJoined.json().detail, `PUT /v1/rooms/${lobby.id}/members/me`, 'the detail names the route that joins')

  const hidden = await sendToRoom(app, stranger, secret.id, 'hello?')
  t.ok(isProblem(hidden, 404), 'a private room: 404')
  const missing = await sendToRoom(app, stranger, 999_999, 'hello?')
  t.same({ ...hidden.json(), detail: undefined }, { ...missing.json(), detail: undefined }, 'answered as a room that does not exist')
  t.equal(hidden.json().detail, `There is no room ${secret.id}.`)

  t.equal((await app.inject({ method: 'PUT', url: `/v1/rooms/${lobby.id}/members/me`, headers: stranger.auth })).statusCode, 200)
  t.equal((await sendToRoom(app, stranger, lobby.id, 'joined, then sent')).statusCode, 202, 'once joined, the send is taken')
})

t.test('a member adds someone to a private room; from then on they read it, not what came before as unseen', async (t) => {
  const add = await app.inject({ method: 'PUT', url: `/v1/rooms/${secret.id}/members/${newcomer.id}`, headers: member.auth })
  t.equal(add.statusCode, 200, 'any member may add people')
  t.ok(add.json().memberIds.includes(newcomer.id))
  const history = (await app.inject({ url: `/v1/rooms/${secret.id}/messages`, headers: newcomer.auth })).json()
  t.same(history.items.map((message: { id: number }) => message.id), [secretMessage.id], 'the history is readable')
  const next = await sendAndStore(app, owner, secret.id, 'welcome')
  await eventually(async () => (await app.inject({ url: '/v1/messages/unseen', headers: newcomer.auth })).json().items,
    (items: Array<{ id: number }>) => items.length === 1 && items[0]?.id === next.id)
  t.ok(isProblem(await app.inject({ method: 'PUT', url: `/v1/rooms/${secret.id}/members/999999`, headers: member.auth }), 404), 'an unknown user')
})

t.test('only owners rename, change visibility, remove others and grant ownership', async (t) => {
  const asMember = [
    { method: 'PATCH', url: `/v1/rooms/${secret.id}`, payload: { name: 'mine now' } },
    { method: 'DELETE', url: `/v1/rooms/${secret.id}/members/${owner.id}` },
    { method: 'PUT', url: `/v1/rooms/${secret.id}/owners/${member.id}` }
  ] as const
  for (const request of asMember) {
    const response = await app.inject({ ...request, headers: member.auth })
    t.ok(isProblem(response, 403), `${request.method} ${request.url}`)
    t.equal(response.json().code, 'NOT_ROOM_OWNER')
  }
  const grant = await app.inject({ method: 'PUT', url: `/v1/rooms/${secret.id}/owners/${member.id}`, headers: owner.auth })
  t.same(grant.json().ownerIds, [owner.id, member.id].sort((a, b) => a - b))
  const remove = await app.inject({ method: 'DELETE', url: `/v1/rooms/${secret.id}/members/${newcomer.id}`, headers: member.auth })
  t.equal(remove.statusCode, 204, 'a new owner removes someone')
  t.ok(isProblem(await app.inject({ url: `/v1/rooms/${secret.id}/messages`, headers: newcomer.auth }), 404), 'who then cannot read it')
  const publish = await app.inject({ method: 'PATCH', url: `/v1/rooms/${secret.id}`, headers: member.auth, payload: { visibility: 'public', name: ' plans ' } })
  t.match(publish.json(), { visibility: 'public', name: 'plans' })
  t.ok((await publicRooms(outsider, '?q=plans')).items.some((room: { id: number }) => room.id === secret.id), 'now listed')
  const close = await app.inject({ method: 'PATCH', url: `/v1/rooms/${secret.id}`, headers: owner.auth, payload: { visibility: 'private' } })
  t.equal(close.json().visibility, 'private')
})

t.test('the last owner leaving hands the room to its longest-standing member', async (t) => {
  const room = await createRoom(app, newcomer, { name: 'handover', memberIds: [member.id, outsider.id], visibility: 'private' })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/rooms/${room.id}/members/me`, headers: newcomer.auth })).statusCode, 204)
  const after = (await app.inject({ url: `/v1/rooms/${room.id}`, headers: member.auth })).json()
  t.equal(after.ownerIds.length, 1)
  t.ok([member.id, outsider.id].includes(after.ownerIds[0]))
})

t.test('a direct room\'s members cannot change', async (t) => {
  const direct = await app.inject({ method: 'POST', url: `/v1/users/${member.id}/messages`, headers: owner.auth, payload: { text: 'hi' } })
  const roomId = (await eventually(async () => (await app.inject({ url: `/v1/tasks/${direct.json().taskId}?wait=5`, headers: owner.auth })).json(),
    (task: { state: string, result: { roomId: number } }) => task.state === 'completed')).result.roomId
  const add = await app.inject({ method: 'PUT', url: `/v1/rooms/${roomId}/members/${outsider.id}`, headers: owner.auth })
  t.ok(isProblem(add, 409))
  t.equal(add.json().code, 'NOT_A_GROUP_ROOM')
})
