import { Type, type Static } from 'typebox'
import type { PublicRoomRow, RoomSummary } from '../../core/rooms.js'
import { typedTextPattern } from '../../core/text.js'
import { DateTimeSchema, IdSchema, PageQuerySchema } from './common.js'
import { MessageSchema, toMessageView } from './messages.js'

export const VisibilitySchema = Type.Union([Type.Literal('public'), Type.Literal('private')], {
  description: '`public`: listed in `GET /v1/rooms/public` and anyone may join. `private`: only members see it exist, and only they can add people',
  examples: ['public']
})

export const RoomSchema = Type.Object({
  id: IdSchema,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  name: Type.Union([Type.String(), Type.Null()], { description: 'null for a direct room', examples: ['book club'] }),
  visibility: Type.Union([VisibilitySchema, Type.Null()], { description: 'null for a direct room' }),
  memberIds: Type.Array(IdSchema),
  ownerIds: Type.Array(IdSchema, { description: 'Members who may rename the room, change its visibility, remove members and make others owners; empty for a direct room', examples: [[1]] }),
  unreadCount: Type.Integer({ minimum: 0, description: 'Messages from others above my read watermark', examples: [3] }),
  lastMessage: Type.Union([MessageSchema, Type.Null()]),
  createdAt: DateTimeSchema
})

export function toRoomView (room: RoomSummary): Static<typeof RoomSchema> {
  return {
    id: room.id,
    kind: room.kind,
    name: room.name,
    visibility: room.visibility,
    memberIds: room.member_ids,
    ownerIds: room.owner_ids,
    unreadCount: room.unread_count,
    lastMessage: room.last_message === null ? null : toMessageView(room.last_message),
    createdAt: room.created_at.toISOString()
  }
}

const RoomNameSchema = Type.String({ minLength: 1, maxLength: 100, pattern: typedTextPattern, examples: ['book club'] })

export const CreateRoomBodySchema = Type.Object({
  name: RoomNameSchema,
  memberIds: Type.Array(IdSchema, { maxItems: 1000, default: [], description: 'Other members; the creator is always one', examples: [[2, 3]] }),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('private')], { default: 'public', description: 'public unless said otherwise, as a new channel in Slack or Zulip' })
}, { additionalProperties: false })

export const UpdateRoomBodySchema = Type.Object({
  name: Type.Optional(RoomNameSchema),
  visibility: Type.Optional(VisibilitySchema)
}, { additionalProperties: false, minProperties: 1 })

export const MemberParamsSchema = Type.Object({ id: IdSchema, userId: IdSchema })

export const PublicRoomSchema = Type.Object({
  id: IdSchema,
  name: Type.String({ examples: ['general'] }),
  memberCount: Type.Integer({ minimum: 0, examples: [15] }),
  joined: Type.Boolean({ description: 'Whether I am a member' }),
  createdAt: DateTimeSchema
})

export function toPublicRoomView (room: PublicRoomRow): Static<typeof PublicRoomSchema> {
  return { id: room.id, name: room.name, memberCount: room.member_count, joined: room.joined, createdAt: room.created_at.toISOString() }
}

export const PublicRoomsQuerySchema = Type.Object({
  ...PageQuerySchema.properties,
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only rooms whose name contains this, in any letter case', examples: ['gen'] }))
})

export const ReadBodySchema = Type.Object({
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Everything up to this seq counts as read; a lower value than the current watermark changes nothing', examples: [42] })
}, { additionalProperties: false })

export const TypingBodySchema = Type.Object({
  typing: Type.Boolean({ description: '`true`: I am typing (say it again every few seconds: a start stands for 10 s); `false`: I stopped' })
}, { additionalProperties: false, examples: [{ typing: true }] })
