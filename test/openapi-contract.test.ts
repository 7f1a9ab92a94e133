import t from 'tap'
import { openApiDocument } from '../scripts/openapi.js'
import { createContract, type Document, type Exchange } from './openapi-contract.js'

// The check every test's answers go through (test/helper.ts), shown to refuse what the document does not allow.
const contract = createContract(await openApiDocument<Document>())

const json = 'application/json; charset=utf-8'
const problemJson = 'application/problem+json; charset=utf-8'
const requestId = { 'x-request-id': 'req-1' }
const user = { id: 1, username: 'user_1', displayName: 'User 1', status: 'online', statusMessage: '', createdAt: '2026-05-04T09:30:00.000Z', presence: 'online', lastActiveAt: '2026-05-04T09:31:00.000Z' }
const notFound = JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'There is no user 9.' })

function exchange (overrides: Partial<Exchange>): Exchange {
  return {
    method: 'GET',
    url: '/v1/users/1',
    status: 200,
    headers: { ...requestId, etag: 'W/"a"', 'content-type': json },
    body: JSON.stringify(user),
    ...overrides
  }
}

t.test('an answer the document describes passes', async (t) => {
  t.same(contract.check(exchange({})), [])
  t.same(contract.check(exchange({ url: '/v1/users/me/' })), [], 'a trailing slash is the same route')
  t.same(contract.check(exchange({ status: 304, headers: { ...requestId, etag: 'W/"a"' }, body: '' })), [])
  t.same(contract.check(exchange({ status: 404, headers: { ...requestId, 'content-type': problemJson }, body: notFound })), [])
  t.same(contract.check(exchange({ method: 'GET', url: '/docs/static/index.html', headers: {}, body: '<html>' })), [], 'Swagger UI is outside the API')
})

t.test('a status the operation does not document fails', async (t) => {
  t.match(contract.check(exchange({ status: 418 })), [/not documented for GET \/v1\/users\/\{id\}/])
  t.match(contract.check(exchange({ method: 'POST', url: '/v1/auth/token', status: 404, headers: { ...requestId, 'content-type': problemJson }, body: notFound })), [/not documented/])
})

t.test('a body that does not match its schema fails', async (t) => {
  t.match(contract.check(exchange({ body: JSON.stringify({ ...user, status: 'away' }) })), [/body \/status/])
  t.match(contract.check(exchange({ body: JSON.stringify({ id: 1 }) })), [/body \/ must have required property/])
  t.match(contract.check(exchange({ body: '{"id":' })), [/not the JSON/])
  t.match(contract.check(exchange({ status: 404, headers: { ...requestId, 'content-type': problemJson }, body: JSON.stringify({ status: 404, code: 'NO_SUCH_CODE' }) })),
    [/body \/ must have required property 'type'/, /body \/ must have required property 'title'/, /body \/code must be equal to one of the allowed values/])
})

t.test('a media type the document does not give fails', async (t) => {
  t.match(contract.check(exchange({ status: 404, headers: { ...requestId, 'content-type': json }, body: notFound })), [/is application\/json, not application\/problem\+json/])
  t.match(contract.check(exchange({ headers: { ...requestId, etag: 'W/"a"' } })), [/has no content-type/])
})

t.test('a 304 or 204 with content fails', async (t) => {
  t.match(contract.check(exchange({ status: 304, headers: { ...requestId, etag: 'W/"a"', 'content-type': json }, body: '' })), [/says content-type/])
  t.match(contract.check(exchange({ method: 'POST', url: '/v1/auth/logout', status: 204, headers: requestId, body: '{}' })), [/has a body/])
})

t.test('a documented header that is missing fails', async (t) => {
  t.match(contract.check(exchange({ headers: { etag: 'W/"a"', 'content-type': json } })), [/lacks the x-request-id header/])
  t.match(contract.check(exchange({ headers: { ...requestId, 'content-type': json } })), [/lacks the ETag header/])
  const accepted = { taskId: 't1', state: 'queued', statusUrl: '/v1/tasks/t1' }
  t.match(contract.check(exchange({ method: 'POST', url: '/v1/rooms/1/messages', status: 202, headers: { ...requestId, 'content-type': json }, body: JSON.stringify(accepted) })),
    [/lacks the Location header/])
})

t.test('a request the document does not describe must be answered with the not-found problem', async (t) => {
  t.same(contract.check(exchange({ url: '/nope', status: 404, headers: { 'content-type': problemJson }, body: notFound })), [])
  t.match(contract.check(exchange({ method: 'DELETE', url: '/v1/users/me', status: 200 })), [/must be 404/])
  t.match(contract.check(exchange({ url: '/nope', status: 404, headers: { 'content-type': 'text/html' }, body: '<h1>Not Found</h1>' })), [/is text\/html/])
})
