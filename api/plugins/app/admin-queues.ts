import basicAuth from '@fastify/basic-auth'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { checkCredentials } from '../../../core/users.js'
import { problem, sendProblem } from '../../errors.js'

const basePath = '/admin/queues'
const dashboardPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"

/**
 * The BullMQ dashboard (bull-board) at /admin/queues, for admins only: HTTP Basic auth with a user's
 * own username and password, and users.is_admin set. Anyone else gets 401. Hidden from the OpenAPI document.
 */
export default fp(async (fastify) => {
  const { db, queues } = fastify

  async function isAdmin (username: string, password: string): Promise<boolean> {
    const user = await checkCredentials(db, username, password)
    return user?.is_admin === true
  }

  const board = new FastifyAdapter()
  board.setBasePath(basePath)
  createBullBoard({
    queues: [new BullMQAdapter(queues.sendMessage), new BullMQAdapter(queues.markSeen)],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Pigeon queues' } }
  })

  await fastify.register(async (admin) => {
    await admin.register(basicAuth, {
      authenticate: { realm: 'Pigeon queues' },
      async validate (username, password, request) {
        if (!await isAdmin(username, password)) {
          request.log.warn({ username }, 'queue dashboard: refused')
          throw new Error('An admin\'s username and password are required.')
        }
      }
    })
    // Answered here rather than by bull-board's own error handler, so a refusal reads like every other API error.
    const checkAdmin = admin.basicAuth as onRequestHookHandler
    admin.addHook('onRequest', (request, reply, done) => {
      checkAdmin.call(admin, request, reply, (error?: Error) => {
        if (error === undefined) return done()
        sendProblem(reply, problem(401, 'An admin\'s username and password are required (HTTP Basic).', 'ADMIN_ONLY'))
      })
    })
    // The dashboard is a page: its own scripts, styles and images, nothing from elsewhere (the API's policy allows nothing).
    admin.addHook('onSend', async (_request, reply) => { reply.header('content-security-policy', dashboardPolicy) })
    // bull-board marks its routes (and its static files) hidden, so the OpenAPI document does not list them.
    await admin.register(board.registerPlugin(), { prefix: basePath })
  })
}, { name: 'admin-queues', dependencies: ['services', 'queues'] })
