import { STATUS_CODES } from 'node:http'
import type { ConnectionError, FastifyError, FastifyReply } from 'fastify'
import type { Static } from 'typebox'
import { isDatabaseUnavailable } from '../core/db/connect.js'
import type { ProblemSchema } from './schemas/common.js'

export type Problem = Static<typeof ProblemSchema>

const problemContentType = 'application/problem+json'

// Fastify's own error codes that mean "your request is wrong", mapped to what a client should read.
const clientErrorCodes: Record<string, string> = {
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URL_TOO_LONG',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED'
}

/** Lets a route throw `httpErrors.conflict(...)` with a stable machine-readable code attached. */
export function withCode<E extends Error> (error: E, code: string): E {
  return Object.assign(error, { code })
}

/** A 503 whose message the client may read (5xx details are hidden otherwise). */
export function unavailable (code: string, detail: string): Error {
  return Object.assign(new Error(detail), { statusCode: 503, code, expose: true })
}

/** The one place a problem body is made: every error answer, whoever sends it, has this shape. */
export function problem (status: number, detail: string, code?: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code }
}

/** An error thrown while serving a request, as the problem a client may read. */
export function toProblem (error: FastifyError): Problem {
  if (isDatabaseUnavailable(error)) {
    return problem(503, 'The database cannot be reached right now; try again shortly.', 'DATABASE_UNAVAILABLE')
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  if (status >= 500) {
    // Never leak internals: only errors we raised on purpose with `expose` (a 503, say) keep their message.
    const safe = (error as { expose?: boolean }).expose === true
    return safe ? problem(status, error.message, error.code) : problem(status, 'Something went wrong on our side.')
  }
  const answer = problem(status, error.message, clientErrorCodes[error.code] ?? (error.code?.startsWith('FST_') ? undefined : error.code))
  if (error.validation !== undefined) {
    answer.detail = 'The request does not match the schema.'
    answer.errors = error.validation.map((issue) => ({
      in: error.validationContext ?? 'body',
      path: issue.instancePath === '' ? '/' : issue.instancePath,
      message: issue.message ?? 'is invalid'
    }))
  }
  return answer
}

/** What Node's HTTP parser refused before Fastify saw a request, as a problem. */
export function toParserProblem (error: ConnectionError): Problem {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return problem(431, 'The request line and headers are larger than this server accepts.', 'HEADERS_TOO_LARGE')
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return problem(408, 'The request did not arrive in time.', 'REQUEST_TIMEOUT')
  return problem(400, 'The request is not well-formed HTTP.', 'MALFORMED_REQUEST')
}

export function sendProblem (reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(problemContentType).send(body)
}

/** A whole HTTP/1.1 response, for a raw socket that has no reply to send through; the connection is not reused. */
export function rawProblemResponse (body: Problem): string {
  const json = JSON.stringify(body)
  return [
    `HTTP/1.1 ${body.status} ${body.title}`,
    `Content-Type: ${problemContentType}`,
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: close',
    '',
    json
  ].join('\r\n')
}
