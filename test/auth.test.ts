import { createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, testDb } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)

function register (payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/v1/auth/register', payload })
}

function login (target: FastifyInstance, username: string, password: string) {
  return target.inject({ method: 'POST', url: '/v1/auth/token', payload: { username, password } })
}

function refresh (refreshToken: string) {
  return app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
}

function me (target: FastifyInstance, authorization?: string) {
  return target.inject({ method: 'GET', url: '/v1/users/me', headers: authorization === undefined ? {} : { authorization } })
}

/** The claims a client can read from a JWT without the secret. */
function claims (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
}

/** An HS256 JWT signed with any secret, to forge what the API must refuse. */
function signJwt (payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const encode = (part: Record<string, unknown>) => Buffer.from(JSON.stringify(part)).toString('base64url')
  const unsigned = `${encode(header)}.${encode(payload)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}

t.test('register', async (t) => {
  t.test('answers 201 with the user and where to find it', async (t) => {
    const res = await register({ username: 'ada_l', password: 'correct-horse-9', displayName: 'Ada Lovelace' })
    t.equal(res.statusCode, 201)
    t.match(res.headers['content-type'], /^application\/json/)
    const user = res.json()
    t.same(Object.keys(user).sort(), ['createdAt', 'displayName', 'id', 'status', 'statusMessage', 'username'])
    t.type(user.id, 'number')
    t.match(user, { username: 'ada_l', displayName: 'Ada Lovelace', status: 'offline', statusMessage: '' })
    t.equal(new Date(user.createdAt).toISOString(), user.createdAt, 'createdAt is an ISO 8601 time')
    t.ok(Math.abs(Date.parse(user.createdAt) - Date.now()) < 60_000, 'createdAt is now')
    t.equal(res.headers.location, `/v1/users/${user.id}`)
    t.notOk(JSON.stringify(user).includes('correct-horse-9'), 'the password is not echoed')
  })

  t.test('the display name defaults to the username', async (t) => {
    const res = await register({ username: 'grace.h', password: 'Passw0rd!' })
    t.equal(res.statusCode, 201)
    t.equal(res.json().displayName, 'grace.h')
  })

  t.test('usernames of 3 and of 32 characters, using every allowed kind of character, are accepted', async (t) => {
    for (const username of ['a-b', 'Z_9.x-' + 'y'.repeat(26)]) {
      const res = await register({ username, password: 'Passw0rd!' })
      t.equal(res.statusCode, 201, username)
      t.equal(res.json().username, username, 'kept as typed')
    }
  })

  t.test('a username that breaks the rules is a 400 problem naming the field', async (t) => {
    const cases = {
      'too short': 'ab',
      'too long': 'a'.repeat(33),
      'a space': 'bad name',
      punctuation: 'bad!name',
      'a slash': 'bad/name',
      'non-ASCII letters': 'zoë_ünï',
      empty: ''
    }
    for (const [why, username] of Object.entries(cases)) {
      const res = await register({ username, password: 'Passw0rd!' })
      t.ok(isProblem(res, 400), `${why}: 400 problem`)
      const body = res.json()
      t.equal(body.code, 'VALIDATION_FAILED', why)
      t.ok(Array.isArray(body.errors) && body.errors.length > 0, `${why}: errors[] says what is wrong`)
      t.ok(body.errors.some((error: { in: string, path: string }) => error.in === 'body' && error.path === '/username'), `${why}: names /username`)
    }
    const stored = await db.selectFrom('users').select('username').where('username', 'in', Object.values(cases)).execute()
    t.same(stored, [], 'none of them was stored')
  })

  t.test('a password needs at least 8 characters', async (t) => {
    const short = await register({ username: 'shorty', password: '1234567' })
    t.ok(isProblem(short, 400))
    t.ok(short.json().errors.some((error: { path: string }) => error.path === '/password'))
    const enough = await register({ username: 'shorty', password: '12345678' })
    t.equal(enough.statusCode, 201)
  })

  t.test('missing fields and unknown fields are 400 problems', async (t) => {
    t.ok(isProblem(await register({ username: 'nopass' }), 400), 'no password')
    t.ok(isProblem(await register({ password: 'Passw0rd!' }), 400), 'no username')
    t.ok(isProblem(await register({ username: 'admin_wannabe', password: 'Passw0rd!', isAdmin: true }), 400), 'an unknown field')
    t.ok(isProblem(await register({ username: 'blank_name', password: 'Passw0rd!', displayName: '   ' }), 400), 'a blank display name')
  })

  t.test('a taken username, in any letter case, is 409 USERNAME_TAKEN', async (t) => {
    t.equal((await register({ username: 'Taken_Name', password: 'Passw0rd!' })).statusCode, 201)
    for (const username of ['Taken_Name', 'taken_name', 'TAKEN_NAME', 'tAKEN_nAME']) {
      const res = await register({ username, password: 'Other-passw0rd' })
      t.ok(isProblem(res, 409), `${username}: 409 problem`)
      t.equal(res.json().code, 'USERNAME_TAKEN')
    }
    const stored = await db.selectFrom('users').select('username').where('username', 'ilike', 'taken_name').execute()
    t.same(stored, [{ username: 'Taken_Name' }], 'one account, as first registered')
  })

  t.test('two concurrent registrations of one name in different cases: one wins, one is 409', async (t) => {
    const results = await Promise.all([
      register({ username: 'Racer', password: 'Passw0rd!' }),
      register({ username: 'racer', password: 'Passw0rd!' })
    ])
    t.same(results.map((res) => res.statusCode).sort(), [201, 409])
  })

  t.test('the password is stored as a salted scrypt hash, never as typed', async (t) => {
    const password = 'same-passw0rd'
    const first = (await register({ username: 'hash_one', password })).json()
    const second = (await register({ username: 'hash_two', password })).json()
    const rows = await db.selectFrom('users').select(['id', 'password_hash']).where('id', 'in', [first.id, second.id]).orderBy('id').execute()
    t.equal(rows.length, 2)
    for (const row of rows) {
      t.not(row.password_hash, password)
      t.notOk(row.password_hash.includes(password))
      t.ok(row.password_hash.startsWith('scrypt$'), 'a self-describing scrypt hash')
    }
    t.not(rows[0]?.password_hash, rows[1]?.password_hash, 'salted: one password, two hashes')
  })
})

t.test('token (log in)', async (t) => {
  await register({ username: 'Mixed.Case', password: 'Log-in-passw0rd', displayName: 'Mixed' })

  t.test('the right password gives Bearer tokens that work', async (t) => {
    const res = await login(app, 'Mixed.Case', 'Log-in-passw0rd')
    t.equal(res.statusCode, 200)
    const tokens = res.json()
    t.same(Object.keys(tokens).sort(), ['accessToken', 'expiresIn', 'refreshToken', 'tokenType'])
    t.equal(tokens.tokenType, 'Bearer')
    t.equal(tokens.expiresIn, config.ACCESS_TOKEN_TTL_SECONDS)
    t.type(tokens.accessToken, 'string')
    t.type(tokens.refreshToken, 'string')
    t.not(tokens.accessToken, tokens.refreshToken)
    const access = claims(tokens.accessToken)
    t.equal(Number(access.exp) - Number(access.iat), tokens.expiresIn, 'expiresIn is the access token\'s lifetime')

    const who = await me(app, `Bearer ${tokens.accessToken}`)
    t.equal(who.statusCode, 200)
    t.equal(who.json().username, 'Mixed.Case')
  })

  t.test('the username is matched in any letter case; the password is not', async (t) => {
    for (const username of ['mixed.case', 'MIXED.CASE']) {
      const res = await login(app, username, 'Log-in-passw0rd')
      t.equal(res.statusCode, 200, username)
      t.equal((await me(app, `Bearer ${res.json().accessToken}`)).json().username, 'Mixed.Case')
    }
    t.ok(isProblem(await login(app, 'Mixed.Case', 'LOG-IN-PASSW0RD'), 401))
  })

  t.test('a wrong password and an unknown user are the same 401 problem', async (t) => {
    const wrongPassword = await login(app, 'Mixed.Case', 'not-the-password')
    const unknownUser = await login(app, 'nobody_here', 'Log-in-passw0rd')
    t.ok(isProblem(wrongPassword, 401))
    t.ok(isProblem(unknownUser, 401))
    t.equal(wrongPassword.json().code, 'INVALID_CREDENTIALS')
    t.same(wrongPassword.json(), unknownUser.json(), 'nothing tells which usernames exist')
  })

  t.test('an account whose stored hash is damaged refuses every password', async (t) => {
    const user = await createUser(app, 'damaged')
    const row = await db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow()
    const keyless = row.password_hash.slice(0, row.password_hash.lastIndexOf('$') + 1)
    await db.updateTable('users').set({ password_hash: keyless }).where('id', '=', user.id).execute()
    t.ok(isProblem(await login(app, 'damaged', user.password), 401), 'the old password')
    t.ok(isProblem(await login(app, 'damaged', 'anything at all'), 401), 'any password')
  })

  t.test('missing fields are 400 problems', async (t) => {
    t.ok(isProblem(await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'Mixed.Case' } }), 400))
    t.ok(isProblem(await app.inject({ method: 'POST', url: '/v1/auth/token', payload: {} }), 400))
  })
})

t.test('access tokens', async (t) => {
  const user = await createUser(app, 'bearer_user')

  function assertRefused (t: Test, res: Awaited<ReturnType<typeof me>>, why: string) {
    t.ok(isProblem(res, 401), `${why}: 401 problem`)
    t.equal(res.headers['www-authenticate'], 'Bearer', `${why}: WWW-Authenticate: Bearer`)
  }

  t.test('a valid one passes, without a WWW-Authenticate challenge', async (t) => {
    const res = await me(app, user.auth.authorization)
    t.equal(res.statusCode, 200)
    t.equal(res.json().id, user.id)
    t.equal(res.headers['www-authenticate'], undefined)
  })

  t.test('missing or malformed is 401 with a Bearer challenge', async (t) => {
    assertRefused(t, await me(app), 'no Authorization header')
    assertRefused(t, await me(app, ''), 'an empty header')
    assertRefused(t, await me(app, 'Bearer'), 'Bearer without a token')
    assertRefused(t, await me(app, 'Bearer not-a-jwt'), 'not a JWT')
    assertRefused(t, await me(app, 'Bearer a.b.c'), 'three garbage parts')
    assertRefused(t, await me(app, `Basic ${Buffer.from('bearer_user:Passw0rd!').toString('base64')}`), 'Basic auth')
    assertRefused(t, await me(app, user.accessToken), 'the token without the Bearer scheme')
  })

  t.test('a forged or tampered token is 401', async (t) => {
    const now = Math.floor(Date.now() / 1000)
    const payload = { sub: String(user.id), typ: 'access', iat: now, exp: now + 600 }
    assertRefused(t, await me(app, `Bearer ${signJwt(payload, 'some-other-secret')}`), 'signed with another secret')
    const unsigned = signJwt(payload, '', { alg: 'none', typ: 'JWT' }).split('.').slice(0, 2).join('.') + '.'
    assertRefused(t, await me(app, `Bearer ${unsigned}`), 'alg none')

    const [header, , signature] = user.accessToken.split('.')
    const otherUser = Buffer.from(JSON.stringify({ ...claims(user.accessToken), sub: '1' })).toString('base64url')
    assertRefused(t, await me(app, `Bearer ${header}.${otherUser}.${signature}`), 'claims changed under a valid signature')
  })

  t.test('a refresh token is not an access token', async (t) => {
    assertRefused(t, await me(app, `Bearer ${user.refreshToken}`), 'a refresh token')
  })

  t.test('an expired access token is 401; so is an expired refresh token', async (t) => {
    // The same deployment (database, secret) with one-second tokens.
    const shortApp = await testApp(t, { ...config, ACCESS_TOKEN_TTL_SECONDS: 1, REFRESH_TOKEN_TTL_SECONDS: 1 })
    const shortLived = await createUser(shortApp, 'short_lived')
    t.equal((await me(shortApp, shortLived.auth.authorization)).statusCode, 200, 'valid at first')
    await sleep(2100)
    const expired = await me(shortApp, shortLived.auth.authorization)
    t.ok(isProblem(expired, 401), 'expired: 401 problem')
    t.equal(expired.json().code, 'TOKEN_EXPIRED', 'the client learns to refresh, not to log in again')
    t.equal(expired.headers['www-authenticate'], 'Bearer error="invalid_token", error_description="expired"', 'RFC 6750 says why')
    const renewed = await shortApp.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken: shortLived.refreshToken } })
    t.ok(isProblem(renewed, 401), 'an expired refresh token')
  })
})

t.test('refresh', async (t) => {
  t.test('rotates: new tokens that work, and the new refresh token rotates again', async (t) => {
    const user = await createUser(app, 'rotator')
    const first = await refresh(user.refreshToken)
    t.equal(first.statusCode, 200)
    const tokens = first.json()
    t.equal(tokens.tokenType, 'Bearer')
    t.equal(tokens.expiresIn, config.ACCESS_TOKEN_TTL_SECONDS)
    t.not(tokens.refreshToken, user.refreshToken, 'a new refresh token')
    const who = await me(app, `Bearer ${tokens.accessToken}`)
    t.equal(who.statusCode, 200)
    t.equal(who.json().id, user.id, 'the new access token is the same user')

    const second = await refresh(tokens.refreshToken)
    t.equal(second.statusCode, 200)
    t.equal((await me(app, `Bearer ${second.json().accessToken}`)).json().id, user.id)
  })

  t.test('a reused refresh token is 401 and revokes its whole family', async (t) => {
    const user = await createUser(app, 'victim')
    const otherLogin = (await login(app, 'victim', user.password)).json()

    const rotated = await refresh(user.refreshToken)
    t.equal(rotated.statusCode, 200)
    const newer = rotated.json().refreshToken

    const replay = await refresh(user.refreshToken)
    t.ok(isProblem(replay, 401), 'the old token again: 401 problem')
    t.equal(replay.json().code, 'INVALID_REFRESH_TOKEN')

    t.ok(isProblem(await refresh(newer), 401), 'the newer token of the same family is revoked too')
    t.ok(isProblem(await refresh(user.refreshToken), 401), 'and the old one stays refused')

    const unrelated = await refresh(otherLogin.refreshToken)
    t.equal(unrelated.statusCode, 200, 'another login of the same user is not touched')

    const family = await db.selectFrom('refresh_tokens').select(['used_at', 'revoked_at'])
      .where('user_id', '=', user.id).where('family_id', '=', String(claims(user.refreshToken).fam)).execute()
    t.equal(family.length, 2, 'the family held the login and its rotation')
    t.ok(family.every((token) => token.revoked_at !== null), 'every token of the family is stored as revoked')
  })

  t.test('the same refresh token presented twice at once succeeds at most once', async (t) => {
    const user = await createUser(app, 'racer_refresh')
    const results = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken), refresh(user.refreshToken)])
    const succeeded = results.filter((res) => res.statusCode === 200)
    t.ok(succeeded.length <= 1, `at most one 200 (got ${succeeded.length})`)
    t.ok(results.every((res) => res.statusCode === 200 || isProblem(res, 401)), 'the rest are 401 problems')
  })

  t.test('an access token or garbage is not a refresh token', async (t) => {
    const user = await createUser(app, 'mixup')
    const res = await refresh(user.accessToken)
    t.ok(isProblem(res, 401), 'an access token: 401 problem')
    t.equal(res.json().code, 'INVALID_REFRESH_TOKEN')
    t.ok(isProblem(await refresh('not-a-jwt'), 401), 'garbage: 401 problem')
    const now = Math.floor(Date.now() / 1000)
    const forged = signJwt({ sub: String(user.id), typ: 'refresh', jti: '00000000-0000-4000-8000-000000000000', fam: '00000000-0000-4000-8000-000000000000', iat: now, exp: now + 600 }, 'wrong-secret')
    t.ok(isProblem(await refresh(forged), 401), 'forged: 401 problem')
    t.ok(isProblem(await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: {} }), 400), 'no token: 400 problem')
  })

  t.test('logout answers 204 and ends the login: its refresh and access tokens are refused at once', async (t) => {
    const user = await createUser(app, 'leaver')
    const rotated = (await refresh(user.refreshToken)).json()

    const res = await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: rotated.refreshToken } })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')

    t.ok(isProblem(await refresh(rotated.refreshToken), 401), 'the logged-out refresh token is refused')
    const ended = await me(app, `Bearer ${rotated.accessToken}`)
    t.ok(isProblem(ended, 401), 'the access token of that login is refused')
    t.equal(ended.json().code, 'SESSION_ENDED')
    t.equal(ended.headers['www-authenticate'], 'Bearer error="invalid_token", error_description="revoked"')

    const relogin = await login(app, 'leaver', user.password)
    t.equal(relogin.statusCode, 200, 'logging in again works')
    t.equal((await refresh(relogin.json().refreshToken)).statusCode, 200, 'and the new family refreshes')
  })

  t.test('logout with an access token or garbage is 401', async (t) => {
    const user = await createUser(app, 'bad_logout')
    const withAccess = await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: user.accessToken } })
    t.ok(isProblem(withAccess, 401))
    const withGarbage = await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: 'x.y.z' } })
    t.ok(isProblem(withGarbage, 401))
    t.equal((await refresh(user.refreshToken)).statusCode, 200, 'the real refresh token was not touched')
  })
})
