import { randomBytes } from 'node:crypto'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs a socket's request frame through the routes, as a request the routes can tell came from a socket. */
    injectFrame: (options: InjectOptions) => Promise<LightMyRequestResponse>
  }
  interface FastifyRequest {
    /** Whether this request is a socket's request frame (then it cannot open a stream or another socket). */
    fromSocket: boolean
  }
}

/** A header only this process can set, with a value made at start: a client sending it proves nothing. */
const frameHeader = 'x-pigeon-socket-frame'

export default fp(async (fastify) => {
  const secret = randomBytes(16).toString('hex')
  fastify.decorateRequest('fromSocket', false)
  fastify.addHook('onRequest', async (request) => {
    if (request.headers[frameHeader] === undefined) return
    request.fromSocket = request.headers[frameHeader] === secret
    delete request.headers[frameHeader]
  })
  fastify.decorate('injectFrame', async (options: InjectOptions) => await fastify.inject({
    ...options,
    headers: { ...options.headers, [frameHeader]: secret }
  }))
}, { name: 'socket-frames' })
