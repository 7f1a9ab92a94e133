import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { problem, sendProblem, toProblem } from '../../errors.js'
import { ProblemSchema } from '../../schemas/common.js'

/** Errors thrown while serving a request become RFC 9457 problem details here. */
export default fp(async (fastify) => {
  fastify.addSchema(ProblemSchema)

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = toProblem(error)
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed')
    return sendProblem(reply, answer)
  })

  fastify.setNotFoundHandler((request, reply) => {
    return sendProblem(reply, problem(404, `No route for ${request.method} ${request.url.split('?')[0]}`))
  })
}, { name: 'problem-details' })
