import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb, testWorkers } from './helper.js'
import { createGroupRoom, sendAndStore, sendToRoom } from './messaging-helper.js'

// Text must arrive as sent and look like something: a lone surrogate would be stored as U+FFFD, and a text of only
// invisible characters would show as an empty bubble.
const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)
const ada = await createUser(app, 'ada_text')
const room = await createGroupRoom(app, ada, 'text rules')

t.test('a lone UTF-16 surrogate is refused, not stored as U+FFFD', async (t) => {
  for (const text of ['broken \uD83D', '\uDE00 tail', 'a\uDC00\uD800b']) {
    const response = await sendToRoom(app, ada, room.id, text)
    t.ok(isProblem(response, 400), JSON.stringify(text))
    t.equal(response.json().errors[0].path, '/text')
  }
  const rename = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: ada.auth, payload: { statusMessage: 'x\uD800' } })
  t.ok(isProblem(rename, 400), 'a status message with a lone surrogate')
  const stored = await db.selectFrom('messages').select('text').where('room_id', '=', room.id).execute()
  t.same(stored, [], 'nothing stored')
})

t.test('a text of only invisible characters counts as blank', async (t) => {
  for (const text of ['\u200B\u200B', ' \u200D\u2060 ', '\uFEFF', '\u00AD', '\u3164', '\u202E\u200F']) {
    t.ok(isProblem(await sendToRoom(app, ada, room.id, text), 400), `message ${JSON.stringify(text)}`)
  }
  const create = await app.inject({ method: 'POST', url: '/v1/rooms', headers: ada.auth, payload: { name: '\u200B' } })
  t.ok(isProblem(create, 400), 'a room name')
  const display = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: ada.auth, payload: { displayName: '\u2060\u2060' } })
  t.ok(isProblem(display, 400), 'a display name')
})

t.test('emoji (surrogate pairs) and text with invisible characters in it are stored as sent', async (t) => {
  for (const text of ['👋 hi', '🏳️‍🌈', 'zero\u200Bwidth', '\u200B.']) {
    const stored = await sendAndStore(app, ada, room.id, text)
    t.equal(stored.text, text, JSON.stringify(text))
  }
})
