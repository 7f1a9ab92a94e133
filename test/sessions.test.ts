import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import jwt from '../api/plugins/external/jwt.js'
import { testConfig } from '../harness/test-config.js'
import { createUser, isProblem, testApp, type TestUser } from './helper.js'
import { openSocket, type SocketClient } from './socket-client.js'
import { openSse, type SseStream } from './sse-client.js'

const config = await testConfig(t, { PUSH_HEARTBEAT_SECONDS: '0.2' })
const app = await testApp(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

let users = 0
const user = async () => await createUser(app, `session_${++users}`)

interface Login { accessToken: string, refreshToken: string }
async function logIn (who: TestUser): Promise<Login> {
  return (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: who.username, password: who.password } })).json()
}
const me = (accessToken: string) => app.inject({ url: '/v1/users/me', headers: { authorization: `Bearer ${accessToken}` } })
const refresh = (refreshToken: string) => app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })

async function socketOf (t: Test, accessToken: string): Promise<SocketClient> {
  const client = await openSocket(`${base.replace('http:', 'ws:')}/v1/ws`, ['pigeon.v1', `bearer.${accessToken}`])
  t.teardown(() => client.socket.terminate())
  return client
}

async function streamOf (t: Test, accessToken: string): Promise<SseStream> {
  const stream = await openSse(`${base}/v1/events?seconds=600`, { authorization: `Bearer ${accessToken}` })
  t.teardown(stream.close)
  t.same(await stream.next(), { retry: 3000 })
  return stream
}

/** The code of the final `end` event of a stream, once it has ended. */
async function endOf (t: Test, stream: SseStream): Promise<string | undefined> {
  const event = await stream.nextEvent()
  t.equal(event?.event, 'end')
  let after = await stream.next()
  while (after?.comment === 'heartbeat') after = await stream.next()
  if (after !== undefined) throw new Error('the stream went on after its end event')
  return JSON.parse(event?.data ?? '{}').code
}

/** Whether this login is over everywhere: its access token refused on REST and on a new socket, its refresh token refused. */
async function assertEnded (t: Test, login: Login): Promise<void> {
  const answer = await me(login.accessToken)
  t.ok(isProblem(answer, 401), 'REST: 401')
  t.equal(answer.json().code, 'SESSION_ENDED')
  t.equal((await (await socketOf(t, login.accessToken)).closed), 4401, 'a new socket: 4401')
  t.ok(isProblem(await refresh(login.refreshToken), 401), 'refresh: 401')
}

t.test('after logout, the access token opens no socket and the login\'s stream ends saying why', async (t) => {
  const bob = await user()
  const stream = await streamOf(t, bob.accessToken)
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/logout', payload: { refreshToken: bob.refreshToken } })).statusCode, 204)
  t.equal(await endOf(t, stream), 'SESSION_ENDED')
  await assertEnded(t, bob)
})

t.test('after a refresh token is reused, the rotated access token opens no socket', async (t) => {
  const bob = await user()
  const rotated = (await refresh(bob.refreshToken)).json()
  t.equal((await refresh(bob.refreshToken)).statusCode, 401, 'the reuse')
  await assertEnded(t, rotated)
})

t.test('an event stream ends at its token\'s expiry with a final event saying so', async (t) => {
  const bob = await user()
  // The API's own JWT plugin with this file's config, signing a token that lives one second.
  const signer = Fastify()
  await signer.register(jwt, { config })
  t.teardown(() => signer.close())
  const shortLived = signer.jwt.sign({ sub: String(bob.id), typ: 'access' }, { expiresIn: 1 })
  const stream = await streamOf(t, shortLived)
  t.equal(await endOf(t, stream), 'TOKEN_EXPIRED')
})

t.test('POST /v1/auth/logout-all ends every login of the user, with their sockets and streams', async (t) => {
  const bob = await user()
  const other = await logIn(bob)
  const sockets = [await socketOf(t, bob.accessToken), await socketOf(t, other.accessToken)]
  for (const socket of sockets) t.match(await socket.next(), { type: 'ready' })
  const streams = [await streamOf(t, bob.accessToken), await streamOf(t, other.accessToken)]
  const done = await app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bob.auth })
  t.equal(done.statusCode, 204)
  for (const socket of sockets) t.equal(await socket.closed, 4401)
  for (const stream of streams) t.equal(await endOf(t, stream), 'SESSION_ENDED')
  await assertEnded(t, bob)
  await assertEnded(t, other)
  t.equal((await logIn(bob)).accessToken.length > 0, true, 'logging in again works')
})

t.test('POST /v1/users/me/password needs the current password and ends every other login', async (t) => {
  const bob = await user()
  const other = await logIn(bob)
  const otherSocket = await socketOf(t, other.accessToken)
  t.match(await otherSocket.next(), { type: 'ready' })
  const change = (currentPassword: string) => app.inject({
    method: 'POST', url: '/v1/users/me/password', headers: bob.auth, payload: { currentPassword, newPassword: 'N3w-passw0rd' }
  })
  const wrong = await change('not-my-password')
  t.ok(isProblem(wrong, 403), 'a wrong current password is 403')
  t.equal((await me(other.accessToken)).statusCode, 200, 'and changes nothing')

  t.equal((await change(bob.password)).statusCode, 204)
  t.equal(await otherSocket.closed, 4401, 'the other login\'s socket closes')
  await assertEnded(t, other)
  t.equal((await me(bob.accessToken)).statusCode, 200, 'this login goes on')
  t.equal((await refresh(bob.refreshToken)).statusCode, 200)
  const old = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: bob.username, password: bob.password } })
  t.equal(old.statusCode, 401, 'the old password no longer logs in')
  const renewed = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: bob.username, password: 'N3w-passw0rd' } })
  t.equal(renewed.statusCode, 200, 'the new one does')
})

t.test('password changes and logging out everywhere are limited per user', async (t) => {
  const limited = await testApp(t, await testConfig(t, { PASSWORD_CHANGE_LIMIT_PER_USER: '2', LOGOUT_ALL_LIMIT_PER_USER: '1', PASSWORD_CHANGE_LIMIT_WINDOW_SECONDS: '600', LOGOUT_ALL_LIMIT_WINDOW_SECONDS: '600' }))
  const ann = await createUser(limited, 'ann_limited')
  const guess = () => limited.inject({ method: 'POST', url: '/v1/users/me/password', headers: ann.auth, payload: { currentPassword: 'a-guess', newPassword: 'N3w-passw0rd' } })
  t.equal((await guess()).statusCode, 403)
  t.equal((await guess()).statusCode, 403)
  const third = await guess()
  t.ok(isProblem(third, 429), 'the third guess is refused before it is checked')
  t.equal(third.json().code, 'RATE_LIMITED')

  const logoutAll = async (who: TestUser) => await limited.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: who.auth })
  t.equal((await logoutAll(ann)).statusCode, 204)
  const again = await limited.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'ann_limited', password: ann.password } })
  const relogged = { ...ann, auth: { authorization: `Bearer ${again.json().accessToken}` } }
  t.ok(isProblem(await logoutAll(relogged), 429), 'a second one within the window is 429')
})
