import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listUnseen } from '../../core/messages.js'
import { watermarksOf } from '../../core/rooms.js'
import { createAcknowledgements } from '../acknowledgements.js'
import { decodeSeenCursor, encodeSeenCursor } from '../cursor.js'
import { hangUpSignal, longPoll } from '../long-poll.js'
import { bearer, problems } from '../schemas/common.js'
import { toMessageView, UnseenQuerySchema, UnseenSchema } from '../schemas/messages.js'

/** The acknowledgements (room → seq) that the stored watermarks of the user's rooms do not hold yet. */
function unapplied (acked: Map<number, number>, stored: Map<number, number>): Map<number, number> {
  return new Map([...acked].filter(([roomId, seq]) => stored.has(roomId) && seq > (stored.get(roomId) ?? 0)))
}

const unseenRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, queues, wakeups } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  // Acknowledgements the database does not hold yet go to a worker in bulk. If Redis is away they stay in the
  // cursor and go again with the next poll, so nothing is lost and nothing is marked seen early.
  const acknowledge = createAcknowledgements(queues, fastify.log)

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
    const userId = request.userId
    const acked = cursor === undefined ? new Map<number, number>() : decodeSeenCursor(cursor)

    // Hand the acknowledgement to a worker before waiting, so unread counts move on at once, not after the poll.
    let watermarks: Map<number, number> | undefined = await watermarksOf(db, userId)
    acknowledge(userId, unapplied(acked, watermarks))

    const result = await longPoll({
      waiters: wakeups.feeds,
      key: userId,
      seconds: wait,
      signal: hangUpSignal(reply),
      ready: (page) => page.items.length > 0,
      query: async () => {
        // The first query reuses the watermarks just read; after a wake-up (a join or a leave, say) they are read again.
        const stored = watermarks ?? await watermarksOf(db, userId)
        watermarks = undefined
        // What the cursor acknowledges counts as seen now, whether or not a worker has applied it yet.
        const pending = unapplied(acked, stored)
        const effective = new Map([...stored].map(([roomId, seq]) => [roomId, Math.max(seq, pending.get(roomId) ?? 0)]))
        return { pending, items: await listUnseen(db, userId, effective, limit) }
      }
    })

    if (result.items.length === 0 && cursor !== undefined) return { items: [], cursor }
    const next = new Map(result.pending)
    for (const message of result.items) next.set(message.room_id, Math.max(next.get(message.room_id) ?? 0, message.seq))
    return { items: result.items.map(toMessageView), cursor: encodeSeenCursor(next) }
  })
}

export default unseenRoutes
