import { readFile } from 'node:fs/promises'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { testApp } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)

t.test('live and ready answer without a token', async (t) => {
  const live = await app.inject('/health/live')
  t.equal(live.statusCode, 200)
  t.same(live.json(), { status: 'ok' })
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', postgres: 'ok', redis: 'ok' })
})

t.test('the OpenAPI document and Swagger UI are public', async (t) => {
  const spec = await app.inject('/openapi.json')
  t.equal(spec.statusCode, 200)
  t.equal(spec.json().openapi, '3.1.0')
  const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
  t.equal(spec.json().info.version, version, 'the document\'s version is the package\'s')
  t.ok(spec.json().paths['/v1/users/'] ?? spec.json().paths['/v1/users'], 'documents the users list')
  const docs = await app.inject('/docs')
  t.ok([200, 302].includes(docs.statusCode))
})

t.test('every response names its request id, keeping a well-formed incoming one', async (t) => {
  const generated = await app.inject('/health/live')
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const kept = await app.inject({ url: '/v1/users', headers: { 'x-request-id': 'trace-42' } })
  t.equal(kept.headers['x-request-id'], 'trace-42', 'kept, even on a 401')
  const replaced = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'bad id with spaces' } })
  t.not(replaced.headers['x-request-id'], 'bad id with spaces')
})
