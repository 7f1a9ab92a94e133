import type { IncomingMessage } from 'node:http'
import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { problem, sendProblem, toProblem } from '../../errors.js'
import { ProblemSchema } from '../../schemas/common.js'

/**
 * How much of a body over the limit is read (and dropped) before the 413 is sent. A client that writes its whole body
 * before reading the answer (Node's fetch does) gets a broken pipe instead of the 413 if the server closes first;
 * past this bound it may, which is what a client sending that much takes.
 */
const discardUpToBytes = 16 * 1024 * 1024

/** Reads what is left of a request body and drops it: up to `bound` bytes, until it ends, or until the client goes. */
async function discardBody (body: IncomingMessage, bound: number): Promise<void> {
  if (body.complete || body.destroyed || Number(body.headers['content-length']) > bound) return
  let read = 0
  await new Promise<void>((resolve) => {
    const done = () => {
      body.off('data', count).off('end', done).off('error', done).off('close', done)
      resolve()
    }
    const count = (chunk: Buffer) => {
      read += chunk.length
      if (read > bound) done()
    }
    body.on('data', count).on('end', done).on('error', done).on('close', done)
    body.resume()
  })
}

/** Errors thrown while serving a request become RFC 9457 problem details here. */
export default fp(async (fastify) => {
  fastify.addSchema(ProblemSchema)

  fastify.setErrorHandler(async (error: FastifyError, request, reply) => {
    const answer = toProblem(error)
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed')
    if (answer.code === 'BODY_TOO_LARGE') {
      const limit = request.routeOptions.bodyLimit
      answer.detail = `The body is larger than the ${limit} bytes (${Math.floor(limit / 1024)} KiB) this server accepts.`
      await discardBody(request.raw, discardUpToBytes)
    }
    return sendProblem(reply, answer)
  })

  fastify.setNotFoundHandler((request, reply) => {
    return sendProblem(reply, problem(404, `No route for ${request.method} ${request.url.split('?')[0]}`))
  })
}, { name: 'problem-details' })
