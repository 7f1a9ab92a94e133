import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Config } from '../core/config.js'
import swagger from './plugins/external/swagger.js'
import jwt from './plugins/external/jwt.js'
import etag from './plugins/external/etag.js'
import securityHeaders from './plugins/external/security-headers.js'
import websocket from './plugins/external/websocket.js'
import problemDetails from './plugins/app/problem-details.js'
import services from './plugins/app/services.js'
import cursors from './plugins/app/cursors.js'
import authenticate from './plugins/app/authenticate.js'
import sessions from './plugins/app/sessions.js'
import socketFrames from './plugins/app/socket-frames.js'
import metrics from './plugins/app/metrics.js'
import laggingReads from './plugins/app/lagging-reads.js'
import queues from './plugins/app/queues.js'
import adminQueues from './plugins/app/admin-queues.js'
import rateLimits from './plugins/app/rate-limits.js'
import wakeups from './plugins/app/wakeups.js'
import presence from './plugins/app/presence.js'
import internalPort from './plugins/app/internal-port.js'
import healthRoutes from './routes/health.js'
import asyncApiRoutes from './routes/asyncapi.js'
import authRoutes from './routes/auth.js'
import userRoutes from './routes/users.js'
import roomRoutes from './routes/rooms.js'
import memberRoutes from './routes/members.js'
import typingRoutes from './routes/typing.js'
import sendRoutes from './routes/sends.js'
import taskRoutes from './routes/tasks.js'
import unseenRoutes from './routes/unseen.js'
import messageRoutes from './routes/messages.js'
import searchRoutes from './routes/search.js'
import eventRoutes from './routes/events.js'
import socketRoutes from './routes/socket.js'
import demoRoutes from './routes/demo.js'

export interface AppOptions {
  config: Config
  /** Shared with in-process workers in one-process mode; a fresh one otherwise. */
  registry?: Registry
}

export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  // Third-party plugins first, then ours, then the routes that use them.
  await fastify.register(swagger)
  await fastify.register(jwt, { config: opts.config })
  await fastify.register(etag)
  await fastify.register(securityHeaders, { config: opts.config })
  await fastify.register(websocket, { config: opts.config })

  // JSON only: any other body is 415, not a confusing schema error.
  fastify.removeContentTypeParser('text/plain')
  // The id in every log line of this request, and of the job it enqueues: quote it when reporting a problem.
  fastify.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })

  await fastify.register(problemDetails)
  await fastify.register(services, { config: opts.config })
  await fastify.register(cursors)
  await fastify.register(internalPort)
  await fastify.register(metrics, { registry: opts.registry })
  await fastify.register(laggingReads)
  await fastify.register(queues)
  await fastify.register(rateLimits)
  await fastify.register(adminQueues)
  await fastify.register(wakeups)
  await fastify.register(presence)
  await fastify.register(sessions)
  await fastify.register(authenticate)
  await fastify.register(socketFrames)

  await fastify.register(healthRoutes)
  await fastify.register(asyncApiRoutes)
  await fastify.register(authRoutes, { prefix: '/v1/auth' })
  await fastify.register(userRoutes, { prefix: '/v1/users' })
  await fastify.register(roomRoutes, { prefix: '/v1/rooms' })
  await fastify.register(memberRoutes, { prefix: '/v1/rooms' })
  await fastify.register(typingRoutes, { prefix: '/v1/rooms' })
  await fastify.register(sendRoutes, { prefix: '/v1' })
  await fastify.register(taskRoutes, { prefix: '/v1/tasks' })
  await fastify.register(unseenRoutes, { prefix: '/v1/messages' })
  await fastify.register(searchRoutes, { prefix: '/v1/messages' })
  await fastify.register(messageRoutes, { prefix: '/v1/messages' })
  await fastify.register(eventRoutes, { prefix: '/v1' })
  await fastify.register(socketRoutes, { prefix: '/v1' })
  await fastify.register(demoRoutes)
}
