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
    // A socket error is the client's doing (a frame over maxPayload, broken framing, a dropped connection), and ws has
    // already closed the socket with the code that says so: one warning line, no stack.
    errorHandler (error, socket, request) {
      const code = (error as { code?: unknown }).code
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) request.log.warn({ code, reason: error.message }, 'websocket closed on a client error')
      else request.log.error({ err: error }, 'websocket handler failed')
      socket.terminate()
    },
    // On shutdown say why (1001, going away), so clients reconnect to another instance with their last cursor.
    preClose (done) {
      for (const client of this.websocketServer.clients) client.close(CloseCode.goingAway, 'the server is shutting down')
      this.websocketServer.close()
      done()
    }
  })
}, { name: 'websocket' })
