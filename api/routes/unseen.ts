import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { decodeSeenCursor, encodeSeenCursor } from '../cursor.js'
import { readFeed } from '../feed.js'
import { hangUpSignal } from '../long-poll.js'
import { bearer, problems } from '../schemas/common.js'
import { toMessageView, UnseenQuerySchema, UnseenSchema } from '../schemas/messages.js'

const unseenRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, queues, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/unseen', {
    schema: {
      tags: ['messages'],
      operationId: 'listUnseen',
      summary: 'The unseen feed: messages from my rooms that I did not send and have not seen, oldest first',
      description: [
        'Pass the `cursor` of the previous response to acknowledge everything that response held: those messages become seen',
        '(a worker applies it) and do not come again. A response lost in transit loses nothing: without its cursor the same',
        'messages come again. With `wait=N` (≤ 30 s) and nothing unseen, the request is held until a message arrives in one',
        'of my rooms or N seconds pass, then answers an empty list and the same cursor. A malformed cursor is 400.'
      ].join(' '),
      security: bearer,
      querystring: UnseenQuerySchema,
      response: { 200: UnseenSchema, ...problems(503) }
    }
  }, async (request, reply) => {
    const { cursor, limit, wait } = request.query
    const page = await readFeed({ db, queues, feeds: wakeups.feeds, log: request.log }, {
      userId: request.userId,
      seenUpTo: cursor === undefined ? new Map() : decodeSeenCursor(cursor),
      acknowledge: true,
      limit,
      wait,
      signal: hangUpSignal(reply),
      requestId: String(request.id)
    })
    if (page.events.length === 0 && cursor !== undefined) return { items: [], cursor }
    return { items: page.events.map((event) => toMessageView(event.message)), cursor: encodeSeenCursor(page.seenUpTo) }
  })
}

export default unseenRoutes
