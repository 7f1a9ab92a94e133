import { createServer, type Server } from 'node:http'
import fp from 'fastify-plugin'
import { problem, sendProblem } from '../../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Only for operators (metrics, the queue dashboard): with INTERNAL_PORT set, served there and nowhere else. */
    internal?: boolean
  }
}

/**
 * With INTERNAL_PORT set, a second listener on that port serves the internal routes, and only those; the public port
 * (and a socket's request frames) answer them 404, as a route it does not have. One app serves both, so the routes,
 * hooks and connections are shared. What is internal is decided on the route the router matched (its `internal`
 * config), never on the URL as sent: the router decodes `%6d`, drops a `#…`, and so on, and a check on the raw URL
 * is bypassed by each.
 */
export default fp(async (fastify) => {
  const { HOST, INTERNAL_PORT } = fastify.config
  if (INTERNAL_PORT === 0) return
  let internal: Server | undefined

  fastify.addHook('onRequest', async (request, reply) => {
    const onInternalPort = request.socket.localPort === INTERNAL_PORT
    if ((request.routeOptions.config.internal === true) === onInternalPort) return
    return await sendProblem(reply, problem(404, `No route for ${request.method} ${request.url.split('?')[0]}`))
  })

  fastify.addHook('onListen', async () => {
    internal = createServer(fastify.routing)
    const server = internal
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(INTERNAL_PORT, HOST, () => resolve())
    })
    fastify.log.info({ port: INTERNAL_PORT }, 'internal routes (/metrics, /admin/queues) listening')
  })
  fastify.addHook('onClose', async () => {
    const server = internal
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
}, { name: 'internal-port', dependencies: ['services', 'problem-details'] })
