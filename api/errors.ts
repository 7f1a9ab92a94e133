import { STATUS_CODES } from 'node:http'
import type { ConnectionError, FastifyError, FastifyReply } from 'fastify'
import type { Static } from 'typebox'
import { isDatabaseUnavailable } from '../core/db/connect.js'
import { problemContentType, type ProblemCodeSchema, type ProblemSchema } from './schemas/common.js'
import { fieldErrors, validationDetail } from './validation-errors.js'

export type Problem = Static<typeof ProblemSchema>
export type ProblemCode = Static<typeof ProblemCodeSchema>

// Fastify's own error codes that mean "your request is wrong", mapped to what a client should read.
const clientErrorCodes: Record<string, ProblemCode> = {
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URL_TOO_LONG',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED'
}

/** The one place a problem body is made: every error answer, whoever sends it, has this shape. */
export function problem (status: number, detail: string, code?: ProblemCode): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code }
}

/** An error answer thrown on purpose: the client reads its status, detail and code, even for a 5xx. */
export class HttpProblem extends Error {
  readonly problem: Problem
  readonly statusCode: number

  constructor (status: number, detail: string, code?: ProblemCode) {
    super(detail)
    this.problem = problem(status, detail, code)
    this.statusCode = status
  }
}

/** The answers more than one place gives, worded once. */
export const notFound = {
  room: (roomId: number) => new HttpProblem(404, `There is no room ${roomId}.`),
  user: (userId: number) => new HttpProblem(404, `There is no user ${userId}.`),
  task: (taskId: string) => new HttpProblem(404, `There is no task ${taskId}.`),
  message: (messageId: number) => new HttpProblem(404, `There is no message ${messageId}.`),
  me: () => new HttpProblem(404, 'Your account no longer exists.')
}

export const invalidCursor = () =>
  new HttpProblem(400, 'The cursor is malformed; pass back a cursor exactly as the API gave it.', 'INVALID_CURSOR')

/** An error thrown while serving a request, as the problem a client may read. */
export function toProblem (error: FastifyError): Problem {
  if (error instanceof HttpProblem) return error.problem
  if (isDatabaseUnavailable(error)) {
    return problem(503, 'The database cannot be reached right now; try again shortly.', 'DATABASE_UNAVAILABLE')
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  // Never leak internals: an error we did not throw on purpose says nothing about why on our side.
  if (status >= 500) return problem(status, 'Something went wrong on our side.')
  const answer = problem(status, error.message, clientErrorCodes[error.code])
  if (error.validation !== undefined) {
    answer.errors = fieldErrors(error.validation, error.validationContext ?? 'body')
    answer.detail = validationDetail(answer.errors)
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
