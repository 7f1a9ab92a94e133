import { Type, type Static } from 'typebox'
import { type Message, TaskStateSchema } from '../../core/db/schema.js'
import { MessageTextSchema } from '../../core/queue.js'
import { createCursors } from '../cursor.js'
import { DateTimeSchema, IdSchema } from './common.js'

export const MessageSchema = Type.Object({
  id: IdSchema,
  roomId: IdSchema,
  seq: Type.Integer({ minimum: 1, description: 'Position in the room: gapless, increasing in the order messages were stored', examples: [42] }),
  senderId: Type.Union([IdSchema, Type.Null()], { description: 'null once the sender deleted their account' }),
  text: Type.Union([Type.String(), Type.Null()], { description: 'null once the message was deleted', examples: ['Hello Bob!'] }),
  createdAt: DateTimeSchema,
  editedAt: Type.Union([DateTimeSchema, Type.Null()], { description: 'When the text was last edited; earlier versions are not kept' }),
  deletedAt: Type.Union([DateTimeSchema, Type.Null()], { description: 'A deleted message keeps its slot (seq) in the room, without its text' })
})
export type MessageView = Static<typeof MessageSchema>

export function toMessageView (message: Message): MessageView {
  return {
    id: message.id,
    roomId: message.room_id,
    seq: message.seq,
    senderId: message.sender_id,
    text: message.text,
    createdAt: message.created_at.toISOString(),
    editedAt: message.edited_at?.toISOString() ?? null,
    deletedAt: message.deleted_at?.toISOString() ?? null
  }
}

export const MessageDetailSchema = Type.Object({
  ...MessageSchema.properties,
  seenByCount: Type.Integer({ minimum: 0, description: 'Members other than the sender whose read watermark passed the message', examples: [3] }),
  seenBy: Type.Optional(Type.Array(Type.Object({
    userId: IdSchema,
    seenAt: Type.Union([DateTimeSchema, Type.Null()], { description: 'When their reading first passed it; null when it passed on joining the room' })
  }), { description: 'Only for the sender: who has seen the message, and when' }))
})

/** A send's body, and an edit's: the same text rules. */
export const SendBodySchema = Type.Object({ text: MessageTextSchema }, { additionalProperties: false })

export const SendHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'Retrying a send with the same key (per user, kept 48 h) answers the same task and stores one message; the same key with another body is 422',
    examples: ['3b8f2c1e-retry-safe-send-1']
  }))
})

export const AcceptedSchema = Type.Object({
  taskId: Type.String({ examples: ['5f0c6d9e-8d5b-4a51-9a39-2f3b1c0e7a10'] }),
  state: TaskStateSchema,
  statusUrl: Type.String({ examples: ['/v1/tasks/5f0c6d9e-8d5b-4a51-9a39-2f3b1c0e7a10'] })
}, { description: 'Accepted: the task is recorded, and a worker will store the message. Poll statusUrl (optionally with ?wait=N) for the outcome.' })

/**
 * A cursor as the feed gives it (rooms 1 and 4 seen up to seq 12 and 3, told of changes up to 15 and 3), sealed with
 * a key no deployment has: it shows what a cursor looks like, and every server refuses it.
 */
export const exampleFeedCursor = createCursors([Buffer.alloc(32)])
  .sealFeed(1, { seenUpTo: new Map([[1, 12], [4, 3]]), changesAfter: new Map([[1, 15], [4, 3]]) })

export const UnseenQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({
    maxLength: 65_536,
    description: [
      'The `cursor` of the previous response, exactly as given: acknowledges everything that response held. Cursors are',
      'sealed by the server, for one user: an edited, forged or another user\'s cursor is 400 `INVALID_CURSOR` (start',
      'again without one: nothing is lost, unacknowledged messages come again)'
    ].join(' ')
  })),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 100, description: 'Messages per response', examples: [50] }),
  wait: Type.Integer({ minimum: 0, maximum: 30, default: 0, description: 'Seconds to hold the request when nothing is unseen', examples: [30] })
})

export const UnseenSchema = Type.Object({
  items: Type.Array(MessageSchema, { description: 'Unseen messages, oldest first, as they are now (an edit made before they came is in them already)' }),
  changes: Type.Array(MessageSchema, {
    description: 'Edits and deletes, since the cursor, of messages from others that I have already (at or below my read position in their room), as they are now: replace the message with that id. Each change comes once.'
  }),
  cursor: Type.String({
    description: 'Pass it on the next request to acknowledge these items; without it they come again. Opaque and sealed: pass it back unchanged',
    examples: [exampleFeedCursor]
  })
})
