import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { watermarksOf } from '../../core/rooms.js'
import { readFeed } from '../../core/unseen-feed.js'
import { createAcknowledgements } from '../acknowledgements.js'
import { decodeFeedCursor, encodeFeedCursor } from '../cursor.js'
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
      summary: 'The unseen feed: messages from my rooms that I did not send and have not seen, oldest first, and changes to ones I have',
      description: [
        'Pass the `cursor` of the previous response to acknowledge everything that response held: those messages become seen',
        '(a worker applies it) and do not come again. A response lost in transit loses nothing: without its cursor the same',
        'messages come again. `changes` carries edits and deletes, made since the cursor, of messages I already have (from',
        'others, at or below my read position in their room), each once, as they are now; a message edited before it came',
        'arrives already edited in `items`. With `wait=N` (≤ 30 s) and nothing new, the request is held until a message',
        'arrives or changes in one of my rooms or N seconds pass, then answers empty lists and the same cursor (a cursor',
        'that did not cover all my rooms yet comes back covering them). A malformed cursor is 400.'
      ].join(' '),
      security: bearer,
      querystring: UnseenQuerySchema,
      response: { 200: UnseenSchema, ...problems(503) }
    }
  }, async (request, reply) => {
    const { cursor, limit, wait } = request.query
    const userId = request.userId
    const given = cursor === undefined ? undefined : decodeFeedCursor(cursor)
    const acked = given?.seenUpTo ?? new Map<number, number>()
    let changesAfter = new Map(given?.changesAfter ?? [])

    // Hand the acknowledgement to a worker before waiting, so unread counts move on at once, not after the poll.
    let watermarks: Map<number, number> | undefined = await watermarksOf(db, userId)
    acknowledge(userId, unapplied(acked, watermarks))
    // Rooms the cursor has no change number for (a first poll, a room joined since) start at the first page's.
    const cursorCoversRooms = given?.changesAfter !== undefined && [...watermarks.keys()].every((roomId) => changesAfter.has(roomId))

    const result = await longPoll({
      waiters: wakeups.feeds,
      key: userId,
      seconds: wait,
      signal: hangUpSignal(reply),
      ready: ({ page }) => page.items.length > 0 || page.changes.length > 0,
      query: async () => {
        // The first query reuses the watermarks just read; after a wake-up (a join or a leave, say) they are read again.
        const stored = watermarks ?? await watermarksOf(db, userId)
        watermarks = undefined
        // What the cursor acknowledges counts as seen now, whether or not a worker has applied it yet.
        const pending = unapplied(acked, stored)
        const seenUpTo = new Map([...stored].map(([roomId, seq]) => [roomId, Math.max(seq, pending.get(roomId) ?? 0)]))
        const page = await readFeed(db, userId, { seenUpTo, changesAfter }, limit)
        // Nothing for me up to these change numbers: a poll woken later asks only for what came after them.
        if (page.items.length === 0 && page.changes.length === 0) changesAfter = page.changesUpTo
        return { pending, page }
      }
    })

    const { page } = result
    if (page.items.length === 0 && page.changes.length === 0 && cursor !== undefined && cursorCoversRooms) {
      return { items: [], changes: [], cursor }
    }
    const seenUpTo = new Map(result.pending)
    for (const message of page.items) seenUpTo.set(message.room_id, Math.max(seenUpTo.get(message.room_id) ?? 0, message.seq))
    return {
      items: page.items.map(toMessageView),
      changes: page.changes.map(toMessageView),
      cursor: encodeFeedCursor({ seenUpTo, changesAfter: page.changesUpTo })
    }
  })
}

export default unseenRoutes
