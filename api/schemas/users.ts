import { Type, type Static } from 'typebox'
import { storableTextPattern, typedTextPattern } from '../../core/text.js'
import type { PublicUserRow } from '../../core/users.js'
import { DateTimeSchema, IdSchema } from './common.js'
import { usernamePattern } from './patterns.js'

export const UserStatusSchema = Type.Union([Type.Literal('online'), Type.Literal('busy'), Type.Literal('offline')])

export const UserSchema = Type.Object({
  id: IdSchema,
  username: Type.String({ examples: ['user_1'] }),
  displayName: Type.String({ examples: ['User One'] }),
  status: UserStatusSchema,
  statusMessage: Type.String({ examples: ['Out for lunch'] }),
  createdAt: DateTimeSchema
})

export type UserView = Static<typeof UserSchema>

export const PresenceSchema = Type.Union([Type.Literal('online'), Type.Literal('idle'), Type.Literal('busy'), Type.Literal('offline')], {
  description: 'What others see: `online` while a long poll, event stream or socket of the user is held on any server (or was within the last minute), `idle` when their client says so, `offline` otherwise; `busy` set by hand as `status` wins',
  examples: ['online']
})

const presenceFields = {
  presence: PresenceSchema,
  lastActiveAt: Type.Union([DateTimeSchema, Type.Null()], {
    description: 'When a connection of the user was last seen (to within a third of a minute while online); null if not in the last 30 days'
  })
}

/** A user as the reads answer them: with their presence, from Redis, never cached with the list. */
export const UserWithPresenceSchema = Type.Object({ ...UserSchema.properties, ...presenceFields })

/** What a client says of its user's activity. */
export const PresenceReportSchema = Type.Object({
  presence: Type.Union([Type.Literal('idle'), Type.Literal('active')], {
    description: '`idle`: the user is away from this client (others see `idle` while they are online); `active`: back'
  })
}, { additionalProperties: false, examples: [{ presence: 'idle' }] })

export const UsernameSchema = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: usernamePattern,
  description: '3–32 letters, digits, `_`, `.` or `-`; unique in any letter case',
  examples: ['ada_l']
})

export const PasswordSchema = Type.String({ minLength: 8, maxLength: 256, description: 'At least 8 characters', examples: ['correct-horse-9'] })
export const DisplayNameSchema = Type.String({ minLength: 1, maxLength: 64, pattern: typedTextPattern, examples: ['Ada Lovelace'] })

export const ChangePasswordSchema = Type.Object({
  currentPassword: Type.String({ minLength: 1, maxLength: 256, description: 'The password in use now', examples: ['Passw0rd!'] }),
  newPassword: PasswordSchema
}, { additionalProperties: false })

export const UpdateMeSchema = Type.Object({
  displayName: Type.Optional(DisplayNameSchema),
  status: Type.Optional(UserStatusSchema),
  statusMessage: Type.Optional(Type.String({ maxLength: 140, pattern: storableTextPattern, examples: ['Out for lunch'] }))
}, { additionalProperties: false, minProperties: 1, examples: [{ status: 'busy', statusMessage: 'Out for lunch' }] })

export function toUserView (row: PublicUserRow): UserView {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    status: row.status,
    statusMessage: row.status_message,
    createdAt: row.created_at.toISOString()
  }
}
