import http from 'node:http'
import t from 'tap'
import { buildApp } from '../api/build-app.js'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { checkedFetch } from './helper.js'
import { openSocket } from './socket-client.js'

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

/** A request written by hand, so the URL reaches the server exactly as given (`fetch` would drop a `#…`). */
async function rawGet (url: string, path: string): Promise<number> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const request = http.request({ host: hostname, port, path, method: 'GET' }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', reject)
    request.end()
  })
}

// The router decodes what it matches; every one of these reaches an internal route on it.
const disguised = ['/%6detrics', '/metrics#x', '/admin/%71ueues', '/%61dmin/queues/api/queues', '/admin/queues/api/queues', '/METRICS', '/metrics/']

t.test('the public port refuses the internal routes however their URL is spelled', async (t) => {
  for (const path of disguised) t.equal(await rawGet(publicUrl, path), 404, path)
  t.equal(await rawGet(internalUrl, '/%6detrics'), 200, 'the internal port decodes them alike')
})

t.test('a socket\'s request frames reach no internal route, however spelled', async (t) => {
  await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username: 'operator', password: 'Passw0rd!' } })
  const { accessToken } = (await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username: 'operator', password: 'Passw0rd!' } })).json()
  const client = await openSocket(`${publicUrl.replace('http:', 'ws:')}/v1/ws`, ['pigeon.v1', `bearer.${accessToken}`])
  t.teardown(() => client.socket.terminate())
  t.match(await client.next(), { type: 'ready' })
  const basic = `Basic ${Buffer.from('operator:Passw0rd!').toString('base64')}`
  for (const path of disguised) t.equal((await client.request({ method: 'GET', path, headers: { authorization: basic } })).status, 404, path)
})
