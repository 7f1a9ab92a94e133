import { sql } from 'kysely'
import t from 'tap'
import { applySearchLanguage } from '../core/db/migrate.js'
import { isProblem, type TestUser } from './helper.js'
import { changeAndApply, createGroupRoom, runningDeployment, sendAllAndStore, sendAndStore } from './messaging-helper.js'

const { app, db, ann, bob, cat } = await runningDeployment(t)
// ann and bob share "plans"; cat has a private room of her own with ann; bob alone is in "solo".
const plans = await createGroupRoom(app, ann, 'plans', [bob])
const secret = await app.inject({ method: 'POST', url: '/v1/rooms', headers: cat.auth, payload: { name: 'secret', memberIds: [ann.id], visibility: 'private' } })
const solo = await createGroupRoom(app, bob, 'solo')

async function search (user: TestUser, query: Record<string, string | number>) {
  const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))
  return await app.inject({ url: `/v1/messages/search?${params}`, headers: user.auth })
}
const texts = async (user: TestUser, query: Record<string, string | number>) => {
  const res = await search(user, query)
  if (res.statusCode !== 200) throw new Error(`search: ${res.statusCode} ${res.body}`)
  return res.json().items.map((hit: { text: string }) => hit.text)
}

t.test('words, phrases, or and -word; newest first; case and accents do not matter', async (t) => {
  await sendAllAndStore(app, ann, plans.id, [
    'Lunch at the Café Zürich?',
    'the staging server is down',
    'deploy to the staging server after lunch',
    'server room is cold, no deploy today'
  ])
  t.same(await texts(bob, { q: 'lunch' }), ['deploy to the staging server after lunch', 'Lunch at the Café Zürich?'])
  t.same(await texts(bob, { q: 'cafe zurich' }), ['Lunch at the Café Zürich?'], 'accents folded, in the text and in q')
  t.same(await texts(bob, { q: '"staging server"' }), ['deploy to the staging server after lunch', 'the staging server is down'])
  t.same(await texts(bob, { q: 'server -deploy' }), ['the staging server is down'])
  t.same(await texts(bob, { q: 'cold or down' }), ['server room is cold, no deploy today', 'the staging server is down'])
  t.same(await texts(bob, { q: 'SERVER', senderId: bob.id }), [], 'senderId: bob sent none')
  t.same(await texts(bob, { q: 'nothing-like-this' }), [])
})

t.test('each hit is the message with its rank and an escaped HTML highlight', async (t) => {
  const sent = await sendAndStore(app, ann, plans.id, 'is <b>bold</b> & the unicorn here?')
  const res = await search(bob, { q: 'unicorn' })
  t.equal(res.statusCode, 200)
  const [hit] = res.json().items
  t.match(hit, { id: sent.id, roomId: plans.id, seq: sent.seq, senderId: ann.id, text: sent.text, editedAt: null, deletedAt: null })
  t.ok(hit.rank > 0)
  // Postgres's parser reads <b> as markup and leaves it out; the rest is escaped.
  t.equal(hit.highlight.replace(/ +/g, ' '), 'is bold &amp; the <mark>unicorn</mark> here?')
  t.equal(res.json().nextCursor, null)
})

t.test('an edit is found by its new words only; a deleted message never', async (t) => {
  const edited = await sendAndStore(app, ann, plans.id, 'meet at the aardvark')
  const deleted = await sendAndStore(app, ann, plans.id, 'the aardvark password is hunter2')
  t.equal((await texts(bob, { q: 'aardvark' })).length, 2)
  await changeAndApply(app, ann, edited.id, 'meet at the zebra')
  await changeAndApply(app, ann, deleted.id, null)
  t.same(await texts(bob, { q: 'aardvark' }), [])
  t.same(await texts(bob, { q: 'hunter2' }), [])
  t.same(await texts(bob, { q: 'zebra' }), ['meet at the zebra'])
})

t.test('only the rooms I am in now: not a private room of others, not one I left', async (t) => {
  const secretRoom = secret.json() as { id: number }
  await sendAndStore(app, cat, secretRoom.id, 'the platypus plan')
  await sendAndStore(app, bob, solo.id, 'a platypus of my own')
  t.same(await texts(ann, { q: 'platypus' }), ['the platypus plan'])
  t.same(await texts(bob, { q: 'platypus' }), ['a platypus of my own'])
  t.same(await texts(cat, { q: 'platypus', roomId: secretRoom.id }), ['the platypus plan'])
  t.ok(isProblem(await search(bob, { q: 'platypus', roomId: secretRoom.id }), 404), 'a room of others, by id: 404')
  const left = await app.inject({ method: 'DELETE', url: `/v1/rooms/${secretRoom.id}/members/me`, headers: ann.auth })
  t.equal(left.statusCode, 204)
  t.same(await texts(ann, { q: 'platypus' }), [], 'after leaving, its messages are not found')
})

t.test('pages: newest first and by rank, each with a sealed cursor', async (t) => {
  const room = await createGroupRoom(app, ann, 'pages', [bob])
  const sent = await sendAllAndStore(app, ann, room.id, [
    'kiwi', 'kiwi kiwi kiwi', 'kiwi and more', 'kiwi kiwi', 'just one kiwi in a longer message about many things'
  ])
  const all = async (order: string) => {
    const seen: number[] = []
    let cursor: string | undefined
    do {
      const res = await search(bob, { q: 'kiwi', order, roomId: room.id, limit: 2, ...(cursor === undefined ? {} : { cursor }) })
      t.equal(res.statusCode, 200)
      seen.push(...res.json().items.map((hit: { id: number }) => hit.id))
      cursor = res.json().nextCursor ?? undefined
    } while (cursor !== undefined)
    return seen
  }
  t.same(await all('newest'), sent.map((m) => m.id).reverse())
  const byRank = await all('rank')
  t.same([...byRank].sort((a, b) => a - b), sent.map((m) => m.id).sort((a, b) => a - b), 'every match once')
  t.equal(byRank[0], sent[1]?.id, 'the message with the most kiwis first')

  const first = (await search(bob, { q: 'kiwi', roomId: room.id, limit: 2 })).json().nextCursor as string
  const [payload] = first.split('.')
  t.ok(isProblem(await search(bob, { q: 'kiwi', limit: 2, cursor: `${payload}.forged-seal-000000000` }), 400), 'a forged seal: 400')
  t.ok(isProblem(await search(bob, { q: 'kiwi', limit: 2, cursor: payload as string }), 400), 'an unsealed cursor: 400')
  const otherOrder = await search(bob, { q: 'kiwi', order: 'rank', limit: 2, cursor: first })
  t.ok(isProblem(otherOrder, 400) && otherOrder.json().code === 'INVALID_CURSOR', 'a newest-first cursor for a rank search: 400')
})

t.test('bad input is a 400 problem that says why, never a 500', async (t) => {
  for (const [query, code] of [
    [{}, 'VALIDATION_FAILED'],
    [{ q: '' }, 'VALIDATION_FAILED'],
    [{ q: '   ' }, 'VALIDATION_FAILED'],
    [{ q: 'x'.repeat(4000) }, 'VALIDATION_FAILED'],
    [{ q: 'kiwi', order: 'oldest' }, 'VALIDATION_FAILED'],
    [{ q: 'kiwi', limit: 101 }, 'VALIDATION_FAILED'],
    [{ q: 'kiwi', cursor: 'not-a-cursor' }, 'INVALID_CURSOR'],
    [{ q: '-' }, 'NO_SEARCH_TERMS'],
    [{ q: '" " or -' }, 'NO_SEARCH_TERMS'],
    [{ q: '-kiwi' }, 'NO_SEARCH_TERMS'],
    [{ q: '!!! ??? ...' }, 'NO_SEARCH_TERMS']
  ] as const) {
    const res = await search(bob, query)
    t.ok(isProblem(res, 400), `${JSON.stringify(query).slice(0, 60)}: 400`)
    t.equal(res.json().code, code)
  }
})

t.test('SEARCH_LANGUAGE re-maps the configuration and re-computes the stored vectors', async (t) => {
  await sendAndStore(app, ann, plans.id, 'the cats were running')
  t.same(await texts(bob, { q: 'running' }), ['the cats were running'])
  t.same(await texts(bob, { q: 'run' }), [], 'simple: words as written')
  t.same(await applySearchLanguage(db, 'english'), { changed: true })
  t.same(await texts(bob, { q: 'run cat' }), ['the cats were running'], 'english: stems')
  t.same(await applySearchLanguage(db, 'english'), { changed: false }, 'the same language again changes nothing')
  await t.rejects(applySearchLanguage(db, 'klingon'), /not a text search configuration/)
  t.same(await applySearchLanguage(db, 'simple'), { changed: true })
  t.same(await texts(bob, { q: 'run cat' }), [])
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from messages where search_vector is distinct from to_tsvector('pigeon_search', coalesce(text, ''))`.execute(db)
  t.equal(rows[0]?.n, 0, 'every stored vector agrees with the configuration')
})
