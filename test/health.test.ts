import t from 'tap'
import { testApp, testConfig } from './helper.js'

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
  t.ok(spec.json().paths['/v1/users/'] ?? spec.json().paths['/v1/users'], 'documents the users list')
  const docs = await app.inject('/docs')
  t.ok([200, 302].includes(docs.statusCode))
})
