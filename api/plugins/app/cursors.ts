import fp from 'fastify-plugin'
import { createCursors, cursorKeysOf, type Cursors } from '../../cursor.js'

declare module 'fastify' {
  interface FastifyInstance {
    cursors: Cursors
  }
}

/** Seals and opens cursors with the keys every instance of a deployment shares (CURSOR_KEYS, or JWT_SECRET's). */
export default fp(async (fastify) => {
  fastify.decorate('cursors', createCursors(cursorKeysOf(fastify.config)))
}, { name: 'cursors', dependencies: ['services'] })
