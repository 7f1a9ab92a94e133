import basicAuth from '@fastify/basic-auth'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import { createHash } from 'node:crypto'
import type { FastifyError, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { checkCredentials } from '../../../core/users.js'
import { problem, sendProblem, toProblem } from '../../errors.js'

const basePath = '/admin/queues'
/** How long proven admin credentials skip the check; an admin demoted keeps the dashboard at most this long. */
const provenForMs = 60_000
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
    queues: [new BullMQAdapter(queues.tasks), new BullMQAdapter(queues.markSeen)],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Pigeon queues' } }
  })

  await fastify.register(async (admin) => {
    // Every dashboard route (pages, its API, its static files) is internal: see internal-port.ts.
    admin.addHook('onRoute', (route) => { route.config = { ...route.config, internal: true } })
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
    // Credentials not yet proven an admin's count towards a limit per address before they are checked (a check costs
    // a password hash); once proven, the dashboard's own polling with them is not counted.
    const checkAdmin = admin.basicAuth as onRequestHookHandler
    const provenAdmins = new Map<string, number>()
    admin.addHook('onRequest', async (request, reply) => {
      const credentials = request.headers.authorization
      const fingerprint = credentials === undefined ? undefined : createHash('sha256').update(credentials).digest('hex')
      if (fingerprint !== undefined && (provenAdmins.get(fingerprint) ?? 0) > Date.now()) return
      try {
        if (fingerprint !== undefined) await fastify.limits.adminAuthPerAddress(request, reply)
      } catch (error) {
        return sendProblem(reply, toProblem(error as FastifyError))
      }
      const refused = await new Promise<boolean>((resolve) => {
        checkAdmin.call(admin, request, reply, (error?: Error) => resolve(error !== undefined))
      })
      if (refused) return sendProblem(reply, problem(401, 'An admin\'s username and password are required (HTTP Basic).', 'ADMIN_ONLY'))
      if (fingerprint !== undefined) provenAdmins.set(fingerprint, Date.now() + provenForMs)
    })
    // The dashboard is a page: its own scripts, styles and images, nothing from elsewhere (the API's policy allows nothing).
    admin.addHook('onSend', async (_request, reply) => { reply.header('content-security-policy', dashboardPolicy) })
    // bull-board marks its routes (and its static files) hidden, so the OpenAPI document does not list them.
    await admin.register(board.registerPlugin(), { prefix: basePath })
  })
}, { name: 'admin-queues', dependencies: ['services', 'queues', 'rate-limits'] })
