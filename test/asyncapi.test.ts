import t from 'tap'
import { pushEvents } from '../api/asyncapi.js'
import { CloseCode } from '../api/socket-session.js'
import { testConfig } from '../harness/test-config.js'
import { createPushContract, resolve, type AsyncApiDocument } from './asyncapi-contract.js'
import { testApp } from './helper.js'

// The push protocol's document: complete and consistent here; every frame and event the push tests read is checked
// against it by their clients (test/socket-client.ts, test/sse-client.ts).
const app = await testApp(t, await testConfig(t))
const served = await app.inject({ url: '/asyncapi.json' })
const document = served.json<AsyncApiDocument>()
const closeCodes = (document.channels.socket as unknown as { 'x-close-codes': Record<string, string> })['x-close-codes']

t.test('served as AsyncAPI 3.0 JSON, without a token, beside the OpenAPI document', async (t) => {
  t.equal(served.statusCode, 200)
  t.match(served.headers['content-type'], /^application\/json/)
  t.equal(document.asyncapi, '3.0.0')
  t.same(Object.fromEntries(Object.entries(document.channels).map(([key, channel]) => [key, channel.address])), { socket: '/v1/ws', stream: '/v1/events' })
})

t.test('every $ref points at something in the document', async (t) => {
  const refs: string[] = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(walk); return }
    if (typeof node !== 'object' || node === null) return
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') refs.push(value)
      else walk(value)
    }
  }
  walk(document)
  t.ok(refs.length > 20)
  t.same(refs.filter((ref) => resolve(document, ref) === undefined), [], 'no dangling reference')
  for (const [name, operation] of Object.entries(document.operations)) {
    const channel = operation.channel.$ref.replace('#/channels/', '')
    t.same(operation.messages.filter(({ $ref }) => !$ref.startsWith(`#/channels/${channel}/messages/`)), [], `${name}: only messages of its channel`)
  }
})

t.test('every push event is in it, on the channels that carry it; every close code too', async (t) => {
  const sentOn = (channel: string) => new Set(Object.values(document.operations)
    .filter((operation) => operation.action === 'send' && operation.channel.$ref === `#/channels/${channel}`)
    .flatMap((operation) => operation.messages.map(({ $ref }) => (resolve(document, (resolve(document, $ref) as { $ref: string }).$ref) as { name: string }).name)))
  const [socket, stream] = [sentOn('socket'), sentOn('stream')]
  for (const [type, event] of Object.entries(pushEvents)) {
    t.equal(socket.has(type), (event.on as readonly string[]).includes('socket'), `${type} on the socket`)
    t.equal(stream.has(type), (event.on as readonly string[]).includes('stream'), `${type} on the stream`)
  }
  for (const frame of ['ready', 'error', 'response']) t.ok(socket.has(frame), `the ${frame} frame`)
  const documented = Object.keys(closeCodes).map(Number)
  for (const code of Object.values(CloseCode)) t.ok(documented.includes(code), `close code ${code}`)
})

t.test('the payloads are the REST schemas, and a frame that breaks them fails the check', async (t) => {
  const contract = createPushContract(document)
  const message = { id: 7, roomId: 1, seq: 12, senderId: 2, text: 'hi', createdAt: '2026-05-04T09:30:00.000Z', editedAt: null, deletedAt: null }
  t.same(contract.checkSocketFrame({ type: 'message.created', cursor: 'abc.def', data: message }), [])
  t.same(contract.checkSocketFrame({ type: 'ready', userId: 2 }), [])
  t.same(contract.checkSocketFrame({ id: 1, status: 202, body: { taskId: 'x' } }), [])
  t.same(contract.checkStreamEvent('message.deleted', { ...message, text: null, deletedAt: '2026-05-04T09:31:00.000Z' }), [])
  t.same(contract.checkStreamEvent('end', { code: 'TOKEN_EXPIRED', detail: 'refresh' }), [])

  t.match(contract.checkSocketFrame({ type: 'message.created', cursor: 'abc.def', data: { ...message, seq: 'twelve' } }), [/does not match/])
  t.match(contract.checkSocketFrame({ type: 'message.created', data: message }), [/does not match/], 'a feed event without its cursor')
  t.match(contract.checkSocketFrame({ type: 'surprise', data: {} }), [/not in the AsyncAPI document/])
  t.match(contract.checkStreamEvent('task.finished', {}), [/not in the AsyncAPI document/], 'tasks are not on the stream')
  t.match(contract.checkStreamEvent('end', { code: 'BORED', detail: '' }), [/does not match/])
})

t.test('the AsyncAPI parser takes the document without an error', async (t) => {
  const { Parser, DiagnosticSeverity } = await import('@asyncapi/parser')
  const { document: parsed, diagnostics } = await new Parser().parse(served.body)
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error)
  t.same(errors.map((error) => `${error.path.join('.')}: ${error.message}`), [], 'no error')
  t.ok(parsed, 'parsed')
  t.same(parsed?.channels().all().map((channel) => channel.address()).sort(), ['/v1/events', '/v1/ws'])
  // Warnings are style advice (descriptions, tags): shown, not failed on.
  for (const warning of diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Warning)) t.comment(`warning: ${warning.path.join('.')}: ${warning.message}`)
})
