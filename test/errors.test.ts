import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { createUser, isProblem, testApp, testConfig } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const user = await createUser(app, 'erring_user')

/** Nothing about the server's insides: no stack frames, no file paths, no driver messages. */
function leaksNothing (res: LightMyRequestResponse): boolean {
  return !/\s+at\s|node_modules|\.ts:\d|\.js:\d|stack/i.test(res.body) && !res.body.includes(process.cwd())
}

function postToken (payload: string, contentType: string) {
  return app.inject({ method: 'POST', url: '/v1/auth/token', headers: { 'content-type': contentType }, payload })
}

t.test('an unknown route is a 404 problem', async (t) => {
  for (const [method, url] of [['GET', '/nope'], ['GET', '/v1/nope?x=1'], ['GET', '/v1/auth/token'], ['DELETE', '/v1/users/me'], ['POST', '/v1/users']] as const) {
    const res = await app.inject({ method, url, headers: user.auth })
    t.ok(isProblem(res, 404), `${method} ${url}: 404 problem`)
    t.ok(leaksNothing(res))
  }
})

t.test('a body that is not JSON is a 415 problem', async (t) => {
  const cases = {
    'text/plain': 'username=erring_user&password=Passw0rd!',
    'application/x-www-form-urlencoded': 'username=erring_user&password=Passw0rd!',
    'application/xml': '<login/>'
  }
  for (const [contentType, payload] of Object.entries(cases)) {
    const res = await postToken(payload, contentType)
    t.ok(isProblem(res, 415), `${contentType}: 415 problem`)
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE', contentType)
    t.ok(leaksNothing(res))
  }
  const patch = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: { ...user.auth, 'content-type': 'text/plain' }, payload: 'busy' })
  t.ok(isProblem(patch, 415), 'PATCH /v1/users/me too')
})

t.test('JSON with a charset is JSON', async (t) => {
  const res = await postToken(JSON.stringify({ username: 'erring_user', password: 'Passw0rd!' }), 'application/json; charset=utf-8')
  t.equal(res.statusCode, 200)
})

t.test('a body over the limit is a 413 problem', async (t) => {
  t.equal(config.BODY_LIMIT_BYTES, 64 * 1024, 'the default limit')
  const huge = JSON.stringify({ username: 'big_one', password: 'x'.repeat(100 * 1024) })
  for (const url of ['/v1/auth/token', '/v1/auth/register']) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: huge })
    t.ok(isProblem(res, 413), `${url}: 413 problem`)
    t.equal(res.json().code, 'BODY_TOO_LARGE')
    t.ok(leaksNothing(res))
  }
  const underLimit = JSON.stringify({ username: 'big_one', password: 'x'.repeat(60 * 1024) })
  const res = await postToken(underLimit, 'application/json')
  t.ok(isProblem(res, 400), 'just under the limit, the schema answers: 400')
})

t.test('invalid JSON is a 400 problem', async (t) => {
  for (const payload of ['{"username":', '{username: "x"}', "{'username': 'x'}", '']) {
    const res = await postToken(payload, 'application/json')
    t.ok(isProblem(res, 400), `${JSON.stringify(payload)}: 400 problem`)
    t.equal(res.json().code, 'INVALID_JSON', JSON.stringify(payload))
    t.ok(leaksNothing(res))
  }
  const poisoned = await postToken('{"username":"erring_user","password":"Passw0rd!","__proto__":{"isAdmin":true}}', 'application/json')
  t.ok(isProblem(poisoned, 400), 'a __proto__ key: 400 problem')
  for (const payload of ['null', '[]', '"user"', '42']) {
    const res = await postToken(payload, 'application/json')
    t.ok(isProblem(res, 400), `JSON but not an object (${payload}): 400 problem`)
  }
})

t.test('a validation problem lists every error with where it is', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username: 'x', password: 'short', extra: 1 } })
  t.ok(isProblem(res, 400))
  const body = res.json()
  t.equal(body.code, 'VALIDATION_FAILED')
  t.ok(body.errors.length >= 3, 'all the errors, not just the first')
  for (const error of body.errors) {
    t.same(Object.keys(error).sort(), ['in', 'message', 'path'])
    t.equal(error.in, 'body')
  }
  t.ok(leaksNothing(res))
})

t.test('a server-side failure is a 500 problem that says nothing about why', async (t) => {
  // A real Postgres that answers "no such database": every query fails.
  const missing = `pigeon_missing_${randomBytes(4).toString('hex')}`
  const broken = await testApp(t, { ...config, DATABASE_URL: config.DATABASE_URL.replace(/\/[^/]+$/, `/${missing}`) })
  const responses = [
    await broken.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'erring_user', password: 'Passw0rd!' } }),
    await broken.inject({ method: 'GET', url: '/v1/users/me', headers: user.auth })
  ]
  for (const res of responses) {
    t.ok(isProblem(res, 500), '500 problem')
    t.equal(res.json().detail, 'Something went wrong on our side.')
    t.notMatch(res.body, new RegExp(`${missing}|database|postgres|does not exist`, 'i'), 'no driver message')
    t.ok(leaksNothing(res))
  }
})

t.test('a JSON body is taken as typed: a number is not a string', async (t) => {
  const patch = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: user.auth, payload: { statusMessage: 42 } })
  t.ok(isProblem(patch, 400))
  t.same(patch.json().errors, [{ in: 'body', path: '/statusMessage', message: 'must be string' }])
  const login = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'erring_user', password: 12345678 } })
  t.ok(isProblem(login, 400))
  const me = await app.inject({ url: '/v1/users/me', headers: user.auth })
  t.not(me.json().statusMessage, '42', 'nothing was stored')
})
