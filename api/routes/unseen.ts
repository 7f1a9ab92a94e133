import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { readFeed, startingPosition } from '../feed.js'
import { hangUpSignal } from '../long-poll.js'
import { bearer, problems } from '../schemas/common.js'
import { feedMessageView } from '../push-events.js'
import { UnseenQuerySchema, UnseenSchema } from '../schemas/messages.js'

const unseenRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, acknowledge, wakeups, cursors } = fastify
  const reads = wakeups.feedReads.labels('long-poll')
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/unseen', {
    schema: {
      tags: ['messages'],
      operationId: 'listUnseen',
      summary: 'The unseen feed: messages from my rooms that I did not send and have not seen, oldest first, and changes to ones I have',
      description: [
        'Pass the `cursor` of the previous response to acknowledge everything that response held: those messages become seen',
        '(a worker applies it) and do not come again. A response lost in transit loses nothing: without its cursor the same',
        'messages come again. `changes` carries edits and deletes, made since the cursor, of messages I already have (from',
        'others, at or below my read position in their room), each once, as they are now; a message edited before it came',
        'arrives already edited in `items`. With `wait=N` (≤ 30 s) and nothing new, the request is held until a message',
        'arrives or changes in one of my rooms or N seconds pass, then answers empty lists and the same cursor (a cursor',
        'that did not cover all my rooms yet comes back covering them). Cursors are sealed by the server, for one user: a',
        'malformed, edited, forged or another user\'s cursor is 400 `INVALID_CURSOR` (poll without it: what was not acknowledged',
        'comes again). Whatever a cursor says, it never takes me past what a room held, so a message that arrives later always comes.'
      ].join(' '),
      security: bearer,
      querystring: UnseenQuerySchema,
      response: { 200: UnseenSchema, ...problems(503) }
    }
  }, async (request, reply) => {
    const { cursor, limit, wait } = request.query
    const position = await startingPosition({ db, cursors }, request.userId, cursor)
    const watch = wait > 0 ? wakeups.watches.watch(request.userId, 'poll') : undefined
    if (wait > 0) wakeups.holding(reply)
    let read
    try {
      read = await readFeed({ db, acknowledge, reads, roomReads: wakeups.roomReads }, {
        userId: request.userId, position, acknowledge: true, limit, wait, signal: hangUpSignal(reply), watch
      })
    } finally {
      watch?.close()
    }
    const { events, position: after } = read
    return {
      items: events.filter((event) => event.type === 'message.created').map((event) => feedMessageView(event.message)),
      changes: events.filter((event) => event.type !== 'message.created').map((event) => feedMessageView(event.message)),
      cursor: cursors.sealFeed(request.userId, after)
    }
  })
}

export default unseenRoutes
