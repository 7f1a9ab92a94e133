import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { testApp } from './helper.js'

// One config for both apps: the second differs only in the origins it lets in.
const config = await testConfig(t)
const app = await testApp(t, config)
const withCors = await testApp(t, { ...config, CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' })

t.test('every answer carries helmet\'s headers, with a policy that lets a JSON answer load and be framed nowhere', async (t) => {
  for (const url of ['/health/live', '/v1/users', '/nowhere']) {
    const response = await app.inject({ url })
    t.equal(response.headers['x-content-type-options'], 'nosniff', url)
    t.equal(response.headers['x-frame-options'], 'SAMEORIGIN', url)
    t.match(response.headers['strict-transport-security'], /max-age=\d+/, url)
    t.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", url)
    t.notOk(response.headers['x-powered-by'], url)
  }
  const docs = await app.inject({ url: '/docs/static/index.html' })
  t.match(docs.headers['content-security-policy'], /script-src 'self'/, 'Swagger UI gets a policy its page can run under')
  t.notMatch(docs.headers['content-security-policy'], /upgrade-insecure-requests/, 'which leaves a plain-http server on plain http')
})

t.test('CORS is off unless CORS_ORIGINS lists origins', async (t) => {
  const preflight = { method: 'OPTIONS' as const, url: '/v1/users', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } }
  const closed = await app.inject(preflight)
  t.notOk(closed.headers['access-control-allow-origin'], 'no CORS without CORS_ORIGINS')
  t.notOk((await app.inject({ url: '/health/live', headers: { origin: 'https://app.example.com' } })).headers['access-control-allow-origin'])

  const open = await withCors.inject(preflight)
  t.equal(open.statusCode, 204)
  t.equal(open.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(open.headers['access-control-allow-headers'], /Authorization/)
  const simple = await withCors.inject({ url: '/health/live', headers: { origin: 'https://admin.example.com' } })
  t.equal(simple.headers['access-control-allow-origin'], 'https://admin.example.com')
  t.match(simple.headers['access-control-expose-headers'], /Retry-After/)
  const stranger = await withCors.inject({ url: '/health/live', headers: { origin: 'https://evil.example.com' } })
  t.notOk(stranger.headers['access-control-allow-origin'], 'an origin not listed gets nothing')
})
