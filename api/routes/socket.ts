import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { InjectOptions } from 'fastify'
import { Gauge } from 'prom-client'
import { runSocketSession } from '../socket-session.js'

/**
 * `GET /v1/ws`: the push channel over a WebSocket (its protocol is described in the README and the OpenAPI
 * document's info; a WebSocket handshake is not an HTTP answer the document can describe).
 */
const socketRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, acknowledge, wakeups, log, verifyAccessToken, cursors } = fastify
  const deps = {
    config,
    cursors,
    db,
    acknowledge,
    feeds: wakeups.feeds,
    userEvents: wakeups.userEvents,
    log,
    inject: async (options: InjectOptions) => await fastify.inject(options),
    verifyAccessToken
  }

  const { websocketServer } = fastify
  const openGauge = new Gauge({
    name: 'pigeon_websockets_open',
    help: 'WebSockets open on this process (closing ones, such as a slow consumer being cut off, not counted)',
    registers: [fastify.metrics.registry],
    collect () { openGauge.set([...websocketServer.clients].filter((socket) => socket.readyState === socket.OPEN).length) }
  })

  fastify.get('/ws', { websocket: true, schema: { hide: true } }, (socket, request) => {
    const { cursor } = request.query as { cursor?: string }
    runSocketSession(deps, socket, { protocols: request.headers['sec-websocket-protocol'], cursor })
  })
}

export default socketRoutes
