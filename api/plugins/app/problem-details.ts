import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { ProblemSchema } from '../../schemas/common.js'

interface Problem {
  type: string
  title: string
  status: number
  detail?: string
  code?: string
  errors?: Array<{ in: string, path: string, message: string }>
}

/** Lets a route throw `httpErrors.conflict(...)` with a stable machine-readable code attached. */
export function withCode<E extends Error> (error: E, code: string): E {
  return Object.assign(error, { code })
}

/** A 503 whose message the client may read (5xx details are hidden otherwise). */
export function unavailable (code: string, detail: string): Error {
  return Object.assign(new Error(detail), { statusCode: 503, code, expose: true })
}

// Fastify's own error codes that mean "your request is wrong", mapped to what a client should read.
const clientErrorCodes: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED'
}

function toProblem (error: FastifyError): Problem {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  const title = STATUS_CODES[status] ?? 'Error'
  if (status >= 500) {
    // Never leak internals: only errors we raised on purpose with `expose` (a 503, say) keep their message.
    const safe = (error as { expose?: boolean }).expose === true
    return { type: 'about:blank', title, status, detail: safe ? error.message : 'Something went wrong on our side.', code: safe ? error.code : undefined }
  }
  const problem: Problem = {
    type: 'about:blank',
    title,
    status,
    detail: error.message,
    code: clientErrorCodes[error.code] ?? (error.code?.startsWith('FST_') ? undefined : error.code)
  }
  if (error.validation !== undefined) {
    problem.detail = 'The request does not match the schema.'
    problem.errors = error.validation.map((issue) => ({
      in: error.validationContext ?? 'body',
      path: issue.instancePath === '' ? '/' : issue.instancePath,
      message: issue.message ?? 'is invalid'
    }))
  }
  return problem
}

/** The one place errors become RFC 9457 problem details. */
export default fp(async (fastify) => {
  fastify.addSchema(ProblemSchema)

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error)
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed')
    return reply.code(problem.status).type('application/problem+json').send(problem)
  })

  fastify.setNotFoundHandler((request, reply) => {
    return reply.code(404).type('application/problem+json').send({
      type: 'about:blank', title: 'Not Found', status: 404, detail: `No route for ${request.method} ${request.url.split('?')[0]}`
    })
  })
}, { name: 'problem-details' })
