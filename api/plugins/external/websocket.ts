import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { Config } from '../../../core/config.js'
import { CloseCode, socketProtocol } from '../../socket-session.js'

export default fp(async (fastify, opts: { config: Config }) => {
  await fastify.register(websocket, {
    options: {
      // A request frame carries at most one request body.
      maxPayload: opts.config.BODY_LIMIT_BYTES + 4096,
      // Answer with our protocol name, never echo the bearer token offered beside it.
      handleProtocols: (protocols) => protocols.has(socketProtocol) ? socketProtocol : false
    },
    // On shutdown say why (1001, going away), so clients reconnect to another instance with their last cursor.
    preClose (done) {
      for (const client of this.websocketServer.clients) client.close(CloseCode.goingAway, 'the server is shutting down')
      this.websocketServer.close()
      done()
    }
  })
}, { name: 'websocket' })
