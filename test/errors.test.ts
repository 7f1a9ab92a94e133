import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { checkedFetch, createUser, isProblem, testApp } from './helper.js'

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

/**
 * Sends a request whose body is `bytes` long to a listening app, writing the whole body before reading the answer, as
 * a simple client does: any write the server refused (it closed the connection) is reported, with the answer read.
 */
async function sendLargeBody (port: number, path: string, headers: Record<string, string>, bytes: number) {
  const socket = connect(port, '127.0.0.1')
  let writeError: string | undefined
  socket.on('error', (error: NodeJS.ErrnoException) => { writeError ??= error.code ?? error.message })
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  await once(socket, 'connect')
  const head = Object.entries({ ...headers, 'content-type': 'application/json', 'content-length': String(bytes) }).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.write(`POST ${path} HTTP/1.1\r\nHost: pigeon\r\n${head}\r\n`)
  const piece = Buffer.alloc(64 * 1024, 'x')
  for (let sent = 0; sent < bytes; sent += piece.length) {
    if (socket.destroyed) break
    const part = piece.subarray(0, Math.min(piece.length, bytes - sent))
    await new Promise<void>((resolve) => socket.write(part, () => resolve()))
  }
  // As a client does, it reads the answer before it closes: one that ends its side first may get no answer at all.
  const answered = () => {
    const text = Buffer.concat(chunks).toString('utf8')
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text)?.[1]
    const bodyAt = text.indexOf('\r\n\r\n')
    return length !== undefined && bodyAt >= 0 && Buffer.byteLength(text.slice(bodyAt + 4)) >= Number(length)
  }
  while (!socket.destroyed && !answered()) await Promise.race([once(socket, 'data'), once(socket, 'close')])
  socket.destroy()
  const [statusLine = '', ...rest] = Buffer.concat(chunks).toString('utf8').split('\r\n')
  return { writeError, statusLine, body: rest.join('\r\n').split('\r\n\r\n').slice(1).join('') }
}

t.test('a body of a few megabytes is read and discarded, so the client gets its 413 rather than a broken pipe', async (t) => {
  const server = await testApp(t, config)
  await server.listen({ port: 0, host: '127.0.0.1' })
  const { port } = server.server.address() as AddressInfo
  const room = (await server.inject({ method: 'POST', url: '/v1/rooms', headers: user.auth, payload: { name: 'big sends' } })).json()
  for (const bytes of [70_000, 3_000_000]) {
    const answer = await sendLargeBody(port, `/v1/rooms/${room.id}/messages`, user.auth, bytes)
    t.equal(answer.writeError, undefined, `${bytes} bytes: the whole body was taken`)
    t.match(answer.statusLine, /^HTTP\/1\.1 413 /, `${bytes} bytes: 413`)
    t.match(JSON.parse(answer.body), { status: 413, code: 'BODY_TOO_LARGE', detail: /65536 bytes \(64 KiB\)/ }, 'the limit is stated')
  }
  const fetched = await checkedFetch(`http://127.0.0.1:${port}/v1/rooms/${room.id}/messages`, {
    method: 'POST',
    headers: { ...user.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'x'.repeat(3_000_000) })
  })
  t.equal(fetched.status, 413, 'Node\'s fetch reads the 413 of a 3 MB send')
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

t.test('a validation error names the field and says the rule in words, never a pattern', async (t) => {
  const room = (await app.inject({ method: 'POST', url: '/v1/rooms', headers: user.auth, payload: { name: 'words' } })).json()
  const send = (payload: unknown) => app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/messages`, headers: user.auth, payload: payload as object })

  const blank = await send({ text: ' \u200B ' })
  t.ok(isProblem(blank, 400))
  t.same(blank.json().errors, [{ in: 'body', path: '/text', message: 'must not be blank (only white space or invisible characters), nor hold U+0000 or a lone UTF-16 surrogate' }])
  t.match(blank.json().detail, /^The request does not match the schema: `text` must not be blank/)

  const extra = await send({ text: 'hi', colour: 'red' })
  t.same(extra.json().errors, [{ in: 'body', path: '/colour', message: 'is not a field this request takes (it takes only `text`)' }], 'the unknown field is named')
  t.match(extra.json().detail, '`colour` is not a field')
  t.same((await send({})).json().errors, [{ in: 'body', path: '/text', message: 'is required' }], 'so is a missing one')

  const register = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username: 'a b', password: 'short' } })
  t.same(register.json().errors.map((error: { path: string, message: string }) => `${error.path} ${error.message}`), [
    '/username may hold only letters, digits, `_`, `.` and `-`',
    '/password must be 8 characters or longer'
  ])
  const status = await app.inject({ method: 'PATCH', url: '/v1/users/me', headers: user.auth, payload: { status: 'away' } })
  t.same(status.json().errors, [{ in: 'body', path: '/status', message: 'must be one of `online`, `busy`, `offline`' }], 'one error for a union, listing what it takes')
  const query = await app.inject({ url: '/v1/rooms?limit=0', headers: user.auth })
  t.same(query.json().errors, [{ in: 'querystring', path: '/limit', message: 'must be 1 or more' }])

  for (const res of [blank, extra, register, status, query]) {
    t.notMatch(res.body, /\^|\$"|\\u|must match pattern|must NOT/, 'no pattern, no schema jargon')
  }
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
  t.same(patch.json().errors, [{ in: 'body', path: '/statusMessage', message: 'must be a string' }])
  const login = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'erring_user', password: 12345678 } })
  t.ok(isProblem(login, 400))
  const me = await app.inject({ url: '/v1/users/me', headers: user.auth })
  t.not(me.json().statusMessage, '42', 'nothing was stored')
})

t.test('an integer too large for Postgres is a 400 problem, never a 500', async (t) => {
  const room = (await app.inject({ method: 'POST', url: '/v1/rooms', headers: user.auth, payload: { name: 'big numbers' } })).json()
  for (const seq of [1e19, Number.MAX_SAFE_INTEGER + 1]) {
    const res = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: user.auth, payload: { seq } })
    t.ok(isProblem(res, 400), `seq ${seq}: 400 problem`)
    t.equal(res.json().code, 'VALIDATION_FAILED')
    t.same(res.json().errors.map((error: { path: string }) => error.path), ['/seq'])
  }
  const largest = await app.inject({ method: 'POST', url: `/v1/rooms/${room.id}/read`, headers: user.auth, payload: { seq: Number.MAX_SAFE_INTEGER } })
  t.equal(largest.statusCode, 200, 'the largest safe integer is a seq')
  for (const url of [`/v1/rooms/${'9'.repeat(20)}`, `/v1/users/${'9'.repeat(20)}`, '/v1/rooms?limit=1e19']) {
    const res = await app.inject({ url, headers: user.auth })
    t.ok(isProblem(res, 400), `${url}: 400 problem`)
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
})

t.test('a URL the router refuses is a problem', async (t) => {
  const badUrl = await app.inject({ url: '/v1/users/%E0%A4%A', headers: user.auth })
  t.ok(isProblem(badUrl, 400), 'a broken percent-encoding: 400 problem')
  t.equal(badUrl.json().code, 'BAD_URL')
  const longParam = await app.inject({ url: `/v1/users/${'1'.repeat(150)}`, headers: user.auth })
  t.ok(isProblem(longParam, 414), 'a path parameter over the router limit: 414 problem')
  t.equal(longParam.json().code, 'URL_TOO_LONG')
  for (const res of [badUrl, longParam]) {
    t.ok(res.json().detail.length > 0, 'says why')
    t.type(res.headers['x-request-id'], 'string', 'a request id, like every answer')
    t.ok(leaksNothing(res))
  }
})

/** Writes raw bytes to a listening app and reads the answer until the server closes the connection. */
async function rawExchange (port: number, request: string) {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.write(request)
  await once(socket, 'close')
  const text = Buffer.concat(chunks).toString('utf8')
  const [head = '', body = ''] = text.split('\r\n\r\n', 2)
  const [statusLine = '', ...headerLines] = head.split('\r\n')
  const headers = Object.fromEntries(headerLines.map((line) => {
    const colon = line.indexOf(':')
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
  }))
  return { statusLine, headers, body }
}

t.test('what Node\'s HTTP parser refuses is a well-formed problem response too', async (t) => {
  const server = await testApp(t, config)
  await server.listen({ port: 0, host: '127.0.0.1' })
  const { port } = server.server.address() as AddressInfo
  const cases = [
    { name: 'a URL over the header size limit', status: 431, request: `GET /v1/users/${'x'.repeat(20_000)} HTTP/1.1\r\nHost: pigeon\r\n\r\n` },
    { name: 'a header over the size limit', status: 431, request: `GET /v1/users/me HTTP/1.1\r\nHost: pigeon\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n` },
    { name: 'a request that is not HTTP', status: 400, request: 'HELLO PIGEON\r\n\r\n' }
  ]
  for (const { name, status, request } of cases) {
    const res = await rawExchange(port, request)
    t.match(res.statusLine, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`)
    t.equal(res.headers['content-type'], 'application/problem+json', name)
    t.equal(res.headers.connection, 'close', name)
    t.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body), `${name}: the whole body`)
    const problem = JSON.parse(res.body)
    t.match(problem, { type: 'about:blank', title: String, status, detail: String, code: String }, name)
    t.notMatch(res.body, /\s+at\s|node_modules|HPE_/, `${name}: nothing about the server's insides`)
  }
  const fine = await checkedFetch(`http://127.0.0.1:${port}/health/live`)
  t.equal(fine.status, 200, 'the server goes on serving')
})

t.test('with Postgres unreachable, a request is a 503 problem that says so', async (t) => {
  // A port where nothing listens: every connection is refused, as when Postgres is down.
  const deadUrl = new URL(config.DATABASE_URL)
  deadUrl.port = String(await freePort())
  const offline = await testApp(t, { ...config, DATABASE_URL: deadUrl.toString() })
  const responses = [
    await offline.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'erring_user', password: 'Passw0rd!' } }),
    await offline.inject({ url: '/v1/users/me', headers: user.auth })
  ]
  for (const res of responses) {
    t.ok(isProblem(res, 503), '503 problem')
    t.match(res.json(), { code: 'DATABASE_UNAVAILABLE', detail: 'The database cannot be reached right now; try again shortly.' })
    t.notMatch(res.body, /ECONNREFUSED|127\.0\.0\.1|postgres/i, 'no driver message')
    t.ok(leaksNothing(res))
  }
})
