import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testDb } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)
const db = testDb(t, config)

const admin = await createUser(app, 'queue_admin', 'admin-Passw0rd!')
const member = await createUser(app, 'queue_member', 'member-Passw0rd!')
await db.updateTable('users').set({ is_admin: true }).where('id', '=', admin.id).execute()

const basic = (username: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
})

function isRefusal (t: Test, response: LightMyRequestResponse): void {
  t.equal(response.statusCode, 401)
  t.match(response.headers['www-authenticate'], /^Basic realm="Pigeon queues"/)
  t.match(response.headers['content-type'], /^application\/problem\+json/)
  t.match(response.json(), { status: 401, title: 'Unauthorized', code: 'ADMIN_ONLY' })
  t.notMatch(response.body, /\btasks\b|mark-seen/, 'nothing about the queues leaks')
}

t.test('an admin gets the dashboard and the queues behind it', async (t) => {
  const page = await app.inject({ url: '/admin/queues', headers: basic(admin.username, admin.password) })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /Pigeon queues/)

  const api = await app.inject({ url: '/admin/queues/api/queues', headers: basic(admin.username, admin.password) })
  t.equal(api.statusCode, 200)
  const names = (api.json() as { queues: Array<{ name: string }> }).queues.map((queue) => queue.name).sort()
  t.same(names, ['mark-seen', 'tasks'])
})

t.test('a user who is not an admin gets 401, even with the right password', async (t) => {
  isRefusal(t, await app.inject({ url: '/admin/queues', headers: basic(member.username, member.password) }))
  isRefusal(t, await app.inject({ url: '/admin/queues/api/queues', headers: basic(member.username, member.password) }))
})

t.test('no credentials: 401 with a Basic challenge', async (t) => {
  isRefusal(t, await app.inject({ url: '/admin/queues' }))
  isRefusal(t, await app.inject({ url: '/admin/queues/api/queues' }))
})

t.test('a wrong password or an unknown user: 401', async (t) => {
  isRefusal(t, await app.inject({ url: '/admin/queues', headers: basic(admin.username, 'wrong-password') }))
  isRefusal(t, await app.inject({ url: '/admin/queues', headers: basic('nobody_here', 'admin-Passw0rd!') }))
})

t.test('a bearer token is not enough', async (t) => {
  isRefusal(t, await app.inject({ url: '/admin/queues', headers: admin.auth }))
})

t.test('the dashboard is not in the OpenAPI document', async (t) => {
  const document = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> }
  t.same(Object.keys(document.paths).filter((path) => path.startsWith('/admin')), [])
})
