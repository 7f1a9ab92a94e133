import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb, type TestUser } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)

const alice = await createUser(app, 'alice')
const others: TestUser[] = []
for (const name of ['bob', 'carol', 'dave', 'erin', 'frank']) others.push(await createUser(app, name))
const everyone = [alice, ...others]

function get (url: string, user: TestUser = alice, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers: { ...user.auth, ...headers } })
}

function patchMe (payload: unknown, user: TestUser = alice) {
  return app.inject({ method: 'PATCH', url: '/v1/users/me', headers: user.auth, payload: payload as Record<string, unknown> })
}

function cursorOf (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Walks the whole list with `limit` per page, returning every page. */
async function walk (limit: number) {
  const pages: Array<{ items: Array<{ id: number, username: string }>, nextCursor: string | null }> = []
  let url: string | null = `/v1/users?limit=${limit}`
  while (url !== null && pages.length < 100) {
    const res = await get(url)
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    const page = res.json()
    pages.push(page)
    url = page.nextCursor === null ? null : `/v1/users?limit=${limit}&cursor=${encodeURIComponent(page.nextCursor)}`
  }
  return pages
}

t.test('every users route needs a bearer token', async (t) => {
  for (const [method, url] of [['GET', '/v1/users'], ['GET', '/v1/users/me'], ['PATCH', '/v1/users/me'], ['GET', `/v1/users/${alice.id}`]] as const) {
    const res = await app.inject({ method, url, payload: method === 'PATCH' ? { status: 'busy' } : undefined })
    t.ok(isProblem(res, 401), `${method} ${url}`)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
})

t.test('list', async (t) => {
  t.test('pages of 2 cover every user once, in id order, and the last page says so', async (t) => {
    const pages = await walk(2)
    const ids = pages.flatMap((page) => page.items.map((user) => user.id))
    t.same(ids, everyone.map((user) => user.id).sort((a, b) => a - b), 'no overlap, no gap, id order')
    t.equal(pages.length, 3, '6 users in pages of 2')
    t.ok(pages.every((page) => page.items.length === 2), 'every page is full')
    t.ok(pages.slice(0, -1).every((page) => typeof page.nextCursor === 'string'), 'a cursor on every page but the last')
    t.equal(pages.at(-1)?.nextCursor, null, 'nextCursor is null on the last page, even when it is full')
  })

  t.test('pages of 4 end with a short last page', async (t) => {
    const pages = await walk(4)
    t.same(pages.map((page) => page.items.length), [4, 2])
    t.equal(pages.at(-1)?.nextCursor, null)
  })

  t.test('the items are users, without secrets', async (t) => {
    const res = await get('/v1/users')
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['items', 'nextCursor'])
    t.equal(body.nextCursor, null, 'the default limit holds all 6')
    t.equal(body.items.length, everyone.length)
    for (const user of body.items) {
      t.same(Object.keys(user).sort(), ['createdAt', 'displayName', 'id', 'lastActiveAt', 'presence', 'status', 'statusMessage', 'username'])
    }
    t.notMatch(res.body, /scrypt|password|is_admin|isAdmin/)
  })

  t.test('a malformed cursor is 400 INVALID_CURSOR', async (t) => {
    const cases = {
      'not base64 JSON': 'garbage!!',
      'JSON but not a cursor': cursorOf([1, 2]),
      'a cursor of another list': cursorOf({ k: 'seq', v: 2 }),
      'a negative position': cursorOf({ k: 'id', v: -1 }),
      'a position that is not a number': cursorOf({ k: 'id', v: '2' }),
      'a fractional position': cursorOf({ k: 'id', v: 1.5 }),
      'a position beyond 2^53': cursorOf({ k: 'id', v: 2 ** 60 })
    }
    for (const [why, cursor] of Object.entries(cases)) {
      const res = await get(`/v1/users?cursor=${encodeURIComponent(cursor)}`)
      t.ok(isProblem(res, 400), `${why}: 400 problem`)
      t.equal(res.json().code, 'INVALID_CURSOR', why)
    }
    t.ok(isProblem(await get(`/v1/users?cursor=${'A'.repeat(600)}`), 400), 'an overlong cursor')
  })

  t.test('limit is 1–200', async (t) => {
    t.equal((await get('/v1/users?limit=200')).statusCode, 200)
    t.equal((await get('/v1/users?limit=1')).json().items.length, 1)
    for (const limit of ['201', '0', '-1', '1.5', 'ten', '']) {
      const res = await get(`/v1/users?limit=${limit}`)
      t.ok(isProblem(res, 400), `limit=${limit}: 400 problem`)
      t.ok(res.json().errors?.some((error: { in: string }) => error.in === 'querystring'), `limit=${limit}: the error is in the querystring`)
    }
  })
})

t.test('one user by id', async (t) => {
  t.test('found: the same user the list shows', async (t) => {
    const res = await get(`/v1/users/${others[0]?.id}`)
    t.equal(res.statusCode, 200)
    const listed = (await get('/v1/users')).json().items.find((user: { id: number }) => user.id === others[0]?.id)
    t.same(res.json(), listed)
    t.equal(res.json().username, 'bob')
  })

  t.test('unknown is a 404 problem', async (t) => {
    const res = await get('/v1/users/999999')
    t.ok(isProblem(res, 404))
  })

  t.test('not an id is a 400 problem, never a 500', async (t) => {
    for (const id of ['abc', '0', '-3', '1.5', '99999999999999999999', '%20']) {
      const res = await get(`/v1/users/${id}`)
      t.ok(isProblem(res, 400), `/v1/users/${id}: 400 problem`)
    }
  })
})

t.test('me', async (t) => {
  t.test('GET answers the caller', async (t) => {
    const res = await get('/v1/users/me', others[1])
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: others[1]?.id, username: 'carol', displayName: 'carol', status: 'offline', statusMessage: '' })
  })

  t.test('PATCH changes display name, status and status message, and they stick', async (t) => {
    const dave = others[2] as TestUser
    const res = await patchMe({ displayName: 'Dave D.', status: 'busy', statusMessage: 'in a meeting' }, dave)
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: dave.id, username: 'dave', displayName: 'Dave D.', status: 'busy', statusMessage: 'in a meeting' })
    t.same((await get('/v1/users/me', dave)).json(), res.json(), 'GET /me shows the change')
    t.same((await get(`/v1/users/${dave.id}`)).json(), res.json(), 'so does GET /users/:id for others')

    const stored = await db.selectFrom('users').select(['display_name', 'status', 'status_message']).where('id', '=', dave.id).executeTakeFirstOrThrow()
    t.same(stored, { display_name: 'Dave D.', status: 'busy', status_message: 'in a meeting' })
  })

  t.test('PATCH changes only what it names', async (t) => {
    const erin = others[3] as TestUser
    await patchMe({ displayName: 'Erin', statusMessage: 'hello' }, erin)
    const res = await patchMe({ status: 'online' }, erin)
    t.equal(res.statusCode, 200)
    t.match(res.json(), { displayName: 'Erin', status: 'online', statusMessage: 'hello' })
    const cleared = await patchMe({ statusMessage: '' }, erin)
    t.equal(cleared.statusCode, 200)
    t.match(cleared.json(), { displayName: 'Erin', status: 'online', statusMessage: '' }, 'an empty status message clears it')
  })

  t.test('PATCH refuses bad input with a 400 problem and changes nothing', async (t) => {
    const before = (await get('/v1/users/me')).json()
    const cases: Record<string, unknown> = {
      'an unknown status': { status: 'away' },
      'an empty body': {},
      'an unknown field': { username: 'mallory' },
      'a known and an unknown field': { status: 'busy', isAdmin: true },
      'an empty display name': { displayName: '' },
      'a blank display name': { displayName: '   ' },
      'an overlong display name': { displayName: 'x'.repeat(65) },
      'an overlong status message': { statusMessage: 'x'.repeat(141) },
      'a null status': { status: null },
      'a status message that is an object': { statusMessage: { text: 'hi' } },
      'an array body': [{ status: 'busy' }]
    }
    for (const [why, payload] of Object.entries(cases)) {
      const res = await patchMe(payload)
      t.ok(isProblem(res, 400), `${why}: 400 problem`)
      t.ok(Array.isArray(res.json().errors), `${why}: errors[]`)
    }
    t.same((await get('/v1/users/me')).json(), before, 'nothing changed')
  })
})

t.test('the list cache', async (t) => {
  t.test('a repeated request is a hit with the same body and ETag', async (t) => {
    const first = await get('/v1/users?limit=3')
    const second = await get('/v1/users?limit=3')
    t.equal(first.headers['x-cache'], 'miss')
    t.equal(second.headers['x-cache'], 'hit')
    t.equal(second.body, first.body)
    t.ok(first.headers.etag, 'an ETag')
    t.equal(second.headers.etag, first.headers.etag, 'the cache does not change the ETag')
    t.equal((await get('/v1/users?limit=4')).headers['x-cache'], 'miss', 'another page size is another page')
  })

  t.test('If-None-Match with the current ETag is 304 with no body', async (t) => {
    const first = await get('/v1/users')
    const etag = String(first.headers.etag)
    const again = await get('/v1/users', alice, { 'if-none-match': etag })
    t.equal(again.statusCode, 304)
    t.equal(again.body, '')
    t.equal(again.headers['content-type'], undefined, 'no content-type: there is nothing to parse')
    t.equal(again.headers.etag, etag, 'the ETag it still is')
    const stale = await get('/v1/users', alice, { 'if-none-match': 'W/"not-the-etag"' })
    t.equal(stale.statusCode, 200, 'another ETag gets the full answer')
    const listed = await get('/v1/users', alice, { 'if-none-match': `W/"not-the-etag", ${etag.replace(/^W\//, '')}` })
    t.equal(listed.statusCode, 304, 'one of a list matches, compared weakly')
  })

  t.test('If-None-Match only spares a GET its successful answer', async (t) => {
    const missing = await get('/v1/users/999999')
    t.ok(isProblem(missing, 404))
    const stillMissing = await get('/v1/users/999999', alice, { 'if-none-match': String(missing.headers.etag) })
    t.ok(isProblem(stillMissing, 404), 'an error answer is always sent whole')
    const patch = { displayName: 'Alice' }
    const first = await patchMe(patch)
    const second = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: { ...alice.auth, 'if-none-match': String(first.headers.etag) }, payload: patch })
    t.equal(second.statusCode, 200, 'a PATCH is answered, whatever its If-None-Match')
    t.same(second.json(), first.json())
  })

  t.test('a registration invalidates the list', async (t) => {
    const before = await get('/v1/users')
    t.equal((await get('/v1/users')).headers['x-cache'], 'hit')
    const newcomer = await createUser(app, 'newcomer')

    const after = await get('/v1/users')
    t.equal(after.headers['x-cache'], 'miss')
    t.ok(after.json().items.some((user: { id: number }) => user.id === newcomer.id), 'the new user is listed')
    t.not(after.headers.etag, before.headers.etag, 'a new ETag')
    const conditional = await get('/v1/users', alice, { 'if-none-match': String(before.headers.etag) })
    t.equal(conditional.statusCode, 200, 'the old ETag no longer matches')
    t.equal((await get('/v1/users')).headers['x-cache'], 'hit', 'and the new list is cached again')
  })

  t.test('a PATCH invalidates the list, on every page', async (t) => {
    const frank = others[4] as TestUser
    const walkBefore = await walk(2)
    t.equal((await get('/v1/users?limit=2')).headers['x-cache'], 'hit')

    const res = await patchMe({ displayName: 'Frank the Tank', status: 'online' }, frank)
    t.equal(res.statusCode, 200)

    const first = await get('/v1/users?limit=2')
    t.equal(first.headers['x-cache'], 'miss')
    const listed = (await walk(2)).flatMap((page) => page.items)
    t.match(listed.find((user) => user.id === frank.id), { displayName: 'Frank the Tank', status: 'online' }, 'the list shows the change')
    t.equal(listed.length, walkBefore.flatMap((page) => page.items).length)
  })

  t.test('a refused PATCH or registration leaves the cache alone', async (t) => {
    await get('/v1/users')
    t.equal((await get('/v1/users')).headers['x-cache'], 'hit')
    await patchMe({ status: 'away' })
    await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username: 'ALICE', password: 'Passw0rd!' } })
    t.equal((await get('/v1/users')).headers['x-cache'], 'hit')
  })
})
