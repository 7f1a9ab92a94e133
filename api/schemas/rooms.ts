import { Type, type Static } from 'typebox'
import type { RoomSummary } from '../../core/rooms.js'
import { typedTextPattern } from '../../core/text.js'
import { DateTimeSchema, IdSchema } from './common.js'
import { MessageSchema, toMessageView } from './messages.js'

export const RoomSchema = Type.Object({
  id: IdSchema,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  name: Type.Union([Type.String(), Type.Null()], { description: 'null for a direct room', examples: ['book club'] }),
  memberIds: Type.Array(IdSchema),
  unreadCount: Type.Integer({ minimum: 0, description: 'Messages from others above my read watermark', examples: [3] }),
  lastMessage: Type.Union([MessageSchema, Type.Null()]),
  createdAt: DateTimeSchema
})

export function toRoomView (room: RoomSummary): Static<typeof RoomSchema> {
  return {
    id: room.id,
    kind: room.kind,
    name: room.name,
    memberIds: room.member_ids,
    unreadCount: room.unread_count,
    lastMessage: room.last_message === null ? null : toMessageView(room.last_message),
    createdAt: room.created_at.toISOString()
  }
}

export const CreateRoomBodySchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, pattern: typedTextPattern, examples: ['book club'] }),
  memberIds: Type.Array(IdSchema, { maxItems: 1000, default: [], description: 'Other members; the creator is always one', examples: [[2, 3]] })
}, { additionalProperties: false })

export const ReadBodySchema = Type.Object({
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Everything up to this seq counts as read; a lower value than the current watermark changes nothing', examples: [42] })
}, { additionalProperties: false })
