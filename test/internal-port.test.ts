import t from 'tap'
import { buildApp } from '../api/build-app.js'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { checkedFetch } from './helper.js'

// /metrics and /admin/queues on a port of their own: the public port answers them 404, the internal one serves only them.
const internalPort = await freePort()
const config = await testConfig(t, { INTERNAL_PORT: String(internalPort), HOST: '127.0.0.1' })
const app = await buildApp(config)
t.teardown(() => app.close())
const publicUrl = await app.listen({ host: '127.0.0.1', port: 0 })
const internalUrl = `http://127.0.0.1:${internalPort}`

t.test('the public port does not serve the internal routes', async (t) => {
  const metrics = await checkedFetch(`${publicUrl}/metrics`)
  t.equal(metrics.status, 404)
  t.match(metrics.headers.get('content-type'), /^application\/problem\+json/)
  t.equal((await fetch(`${publicUrl}/admin/queues`)).status, 404)
  t.equal((await checkedFetch(`${publicUrl}/health/live`)).status, 200, 'and serves everything else')
})

t.test('the internal port serves them, and nothing else', async (t) => {
  const metrics = await fetch(`${internalUrl}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /pigeon_http_request_duration_seconds/)
  const dashboard = await fetch(`${internalUrl}/admin/queues`)
  t.equal(dashboard.status, 401, 'the dashboard still asks for an admin')
  t.equal((await fetch(`${internalUrl}/health/live`)).status, 404)
  t.equal((await fetch(`${internalUrl}/v1/users`)).status, 404)
})
