import { STATUS_CODES } from 'node:http'
import { problemContentType } from './schemas/common.js'

// The parts of an OpenAPI 3.1 document this module reads and completes.
interface Schema { type?: string, default?: unknown, examples?: unknown[], properties?: Record<string, Schema>, required?: string[] }
interface Parameter { in: string, name: string, required?: boolean, schema?: Schema, description?: string, example?: unknown }
interface Header { description: string, required: boolean, schema: { type: 'string' }, example?: string }
interface Response { description: string, headers?: Record<string, Header>, content?: Record<string, unknown> }
interface Operation {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema?: Schema }> }
  security?: Array<Record<string, string[]>>
  responses: Record<string, Response>
}
export interface OpenApiDocument { paths?: Record<string, Record<string, Operation>> }

const header = (description: string, example: string): Header => ({ description, required: true, schema: { type: 'string' }, example })

const headers = {
  requestId: header('This request\'s id, in every log line it caused: quote it when reporting a problem', '2f1c9a7e-5d3b-4f0a-8c6e-9b1d2a3c4e5f'),
  etag: header('A weak validator of this answer: send it as `If-None-Match` to get 304 while the answer is the same', 'W/"Q2hhbmdlcyB3aGVuIHRoZSBib2R5IGRvZXM="'),
  location: header('Where to read what was created; for a 202, the task that tracks the send', '/v1/tasks/5f0c6d9e-8d5b-4a51-9a39-2f3b1c0e7a10'),
  wwwAuthenticate: header('The scheme this route needs', 'Bearer'),
  retryAfter: header('Seconds until the limit\'s window ends and requests are counted afresh', '42'),
  rateLimit: header('The most requests the limit allows in its window', '10'),
  rateLimitRemaining: header('Requests left in the window (0 when refused)', '0'),
  rateLimitReset: header('Seconds until the window ends', '42')
}

// Its example is in the schema, not the parameter: see leaveOptionalEmpty.
const ifNoneMatch: Parameter = {
  in: 'header',
  name: 'If-None-Match',
  required: false,
  description: 'The `ETag` of an earlier answer: while the answer is the same, 304 with no body',
  schema: { type: 'string', examples: [headers.etag.example] }
}

// A stream is never the same answer twice: it has no ETag and no 304.
const isCacheable = (method: string, operation: Operation) =>
  method === 'get' && operation.responses['200']?.content?.['text/event-stream'] === undefined

const needsToken = (operation: Operation) => (operation.security ?? []).some((requirement) => 'bearerAuth' in requirement)

/** The answers a route gives because of what it is (it takes a body, needs a token, …), whatever its handler does. */
function answersOf (method: string, operation: Operation): Record<string, Response> {
  const parameterIn = (place: string) => (operation.parameters ?? []).some((parameter) => parameter.in === place)
  const hasBody = operation.requestBody !== undefined
  const problem = (status: number, why: string): Response => ({
    description: `${STATUS_CODES[status] ?? 'Error'}: ${why}`,
    content: { [problemContentType]: { schema: { $ref: '#/components/schemas/Problem' } } }
  })
  return {
    ...(isCacheable(method, operation) && { 304: { description: 'Not Modified: the `If-None-Match` sent is still this answer\'s ETag; no body' } }),
    ...((hasBody || parameterIn('query') || parameterIn('path') || parameterIn('header')) &&
      { 400: problem(400, 'the request does not match the schema (`VALIDATION_FAILED`: each error in `errors[]` names its field and the rule in words, and so does `detail`), or its URL or JSON is broken') }),
    ...(needsToken(operation) && { 401: problem(401, 'no valid bearer access token (`UNAUTHORIZED`)') }),
    ...(hasBody && { 413: problem(413, 'the body is larger than the server accepts (`BODY_TOO_LARGE`, 64 KiB unless configured; `detail` states the limit). A body of up to 16 MiB is read to its end first, so a client that writes its whole body before reading gets this answer') }),
    ...(parameterIn('path') && { 414: problem(414, 'a path parameter is longer than the router accepts (`URL_TOO_LONG`)') }),
    ...(hasBody && { 415: problem(415, 'the body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)') }),
    431: problem(431, 'the request line and headers are larger than the server accepts (`HEADERS_TOO_LARGE`)'),
    500: problem(500, 'something failed on our side; the answer says no more, so quote its `x-request-id`')
  }
}

/** The headers a response carries, by what it is. */
function headersOf (method: string, status: string, operation: Operation): Record<string, Header> {
  return {
    // Node's HTTP parser answers a 431 before there is a request, so it has no request id.
    ...(status !== '431' && { 'x-request-id': headers.requestId }),
    ...(isCacheable(method, operation) && (status === '200' || status === '304') && { ETag: headers.etag }),
    ...((status === '201' || status === '202') && { Location: headers.location }),
    ...(status === '401' && needsToken(operation) && { 'WWW-Authenticate': headers.wwwAuthenticate }),
    ...(status === '429' && {
      'Retry-After': headers.retryAfter,
      'RateLimit-Limit': headers.rateLimit,
      'RateLimit-Remaining': headers.rateLimitRemaining,
      'RateLimit-Reset': headers.rateLimitReset
    })
  }
}

/** A property with a default may be left out: the server fills the default in before it checks `required`. */
function relaxDefaults (operation: Operation): void {
  for (const parameter of operation.parameters ?? []) {
    if (parameter.schema?.default !== undefined) parameter.required = false
  }
  for (const media of Object.values(operation.requestBody?.content ?? {})) {
    const schema = media.schema
    if (schema?.required === undefined) continue
    schema.required = schema.required.filter((name) => schema.properties?.[name]?.default === undefined)
  }
}

/**
 * Swagger UI's "Try it out" fills each parameter in with its `example` and sends it. For an optional parameter with
 * no default (a cursor, a filter, an `Idempotency-Key`) that does harm: a cursor acknowledges messages or pages past
 * every item, a filter hides them, a second send with the same key is refused. Such an example moves into the
 * parameter's schema (`examples`), where readers and generators still find it and Swagger UI leaves the field empty.
 */
function leaveOptionalEmpty (operation: Operation): void {
  for (const parameter of operation.parameters ?? []) {
    if (parameter.required === true || parameter.example === undefined || parameter.schema?.default !== undefined) continue
    parameter.schema = { ...parameter.schema, examples: [parameter.example] }
    delete parameter.example
  }
}

/**
 * The document as the server really behaves: the answers and headers every route of a kind has are added here,
 * once, so no route can forget one; what a route's own handler answers stays in its schema.
 */
export function completeDocument<D extends OpenApiDocument> (document: D): D {
  const completed = structuredClone(document)
  for (const methods of Object.values(completed.paths ?? {})) {
    for (const [method, operation] of Object.entries(methods)) {
      relaxDefaults(operation)
      leaveOptionalEmpty(operation)
      operation.responses = { ...answersOf(method, operation), ...operation.responses }
      if (isCacheable(method, operation)) operation.parameters = [...(operation.parameters ?? []), ifNoneMatch]
      for (const [status, response] of Object.entries(operation.responses)) {
        response.headers = { ...headersOf(method, status, operation), ...response.headers }
      }
    }
  }
  return completed
}
