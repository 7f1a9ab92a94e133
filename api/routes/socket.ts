import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Gauge } from 'prom-client'
import { problem, sendProblem } from '../errors.js'
import { createPushSlots } from '../push-slots.js'
import { runSocketSession } from '../socket-session.js'

/**
 * `GET /v1/ws`: the push channel over a WebSocket (its protocol is described in the README and the OpenAPI
 * document's info; a WebSocket handshake is not an HTTP answer the document can describe). A plain GET, or a socket's
 * request frame, answers 426.
 */
const socketRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, acknowledge, wakeups, log, verifyAccessToken, cursors } = fastify
  const deps = {
    config,
    cursors,
    db,
    acknowledge,
    watches: wakeups.watches,
    roomReads: wakeups.roomReads,
    reads: wakeups.feedReads.labels('socket'),
    userEvents: wakeups.userEvents,
    log,
    injectFrame: fastify.injectFrame,
    verifyAccessToken,
    slots: createPushSlots<number>(config.SOCKETS_PER_USER)
  }

  const { websocketServer } = fastify
  const openGauge = new Gauge({
    name: 'pigeon_websockets_open',
    help: 'WebSockets open on this process (closing ones, such as a slow consumer being cut off, not counted)',
    registers: [fastify.metrics.registry],
    collect () { openGauge.set([...websocketServer.clients].filter((socket) => socket.readyState === socket.OPEN).length) }
  })

  fastify.route({
    method: 'GET',
    url: '/ws',
    // The handshake is not an HTTP answer the document can describe: the socket is in its introduction, 426 included.
    schema: { hide: true },
    handler: async (request, reply) => {
      reply.header('upgrade', 'websocket')
      const where = request.fromSocket ? 'from a socket\'s request frame' : 'without a WebSocket upgrade'
      return sendProblem(reply, problem(426, `GET /v1/ws opens a WebSocket: it cannot be requested ${where}.`, 'UPGRADE_REQUIRED'))
    },
    wsHandler: (socket, request) => {
      const { cursor } = request.query as { cursor?: string }
      runSocketSession(deps, socket, { protocols: request.headers['sec-websocket-protocol'], cursor, remoteAddress: request.ip })
    }
  })
}

export default socketRoutes
