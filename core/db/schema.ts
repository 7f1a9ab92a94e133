import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'
import { Type, type Static } from 'typebox'

type CreatedAt = ColumnType<Date, Date | string | undefined, never>
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>

export type UserStatus = 'online' | 'busy' | 'offline'

export interface UsersTable {
  id: Generated<number>
  username: string
  password_hash: string
  display_name: string
  status: ColumnType<UserStatus, UserStatus | undefined, UserStatus>
  status_message: ColumnType<string, string | undefined, string>
  is_admin: ColumnType<boolean, boolean | undefined, boolean>
  created_at: CreatedAt
  updated_at: Timestamp
}

export interface RefreshTokensTable {
  id: string
  family_id: string
  user_id: number
  expires_at: Date
  used_at: Date | null
  revoked_at: Date | null
  created_at: CreatedAt
}

export type RoomKind = 'direct' | 'group'
/** Public group rooms are listed and anyone may join; private ones only members can add people to. Null for a direct room. */
export type RoomVisibility = 'public' | 'private'
export type MemberRole = 'owner' | 'member'

export interface RoomsTable {
  id: Generated<number>
  kind: RoomKind
  name: string | null
  direct_key: string | null
  last_seq: ColumnType<number, number | undefined, number>
  /** The room's last change (insert, edit or delete) number: every change takes the next one under the room lock. */
  last_change_seq: ColumnType<number, number | undefined, number>
  created_by: number | null
  created_at: CreatedAt
  visibility: RoomVisibility | null
}

export interface RoomMembersTable {
  room_id: number
  user_id: number
  joined_at: CreatedAt
  last_read_seq: ColumnType<number, number | undefined, number>
  role: ColumnType<MemberRole, MemberRole | undefined, MemberRole>
}

export interface MessagesTable {
  id: Generated<number>
  room_id: number
  seq: number
  sender_id: number | null
  /** null once deleted: a tombstone keeps its seq, never its text. */
  text: string | null
  task_id: string
  /** The room's change number of the message's last insert, edit or delete. */
  change_seq: number
  created_at: CreatedAt
  edited_at: Date | null
  deleted_at: Date | null
}

/** Each move of a read watermark: when a member's reading passed a message. */
export interface ReadMarksTable {
  room_id: number
  user_id: number
  up_to_seq: number
  read_at: CreatedAt
}

/** The domains of a task's state and kind, as the API documents them. */
export const TaskStateSchema = Type.Union([
  Type.Literal('queued'), Type.Literal('active'), Type.Literal('completed'), Type.Literal('failed')
], { description: '`queued` until a worker takes it up, `active` while one works on it (or waits to retry), then `completed` or `failed`' })

export const taskKinds = { sendMessage: 'send-message', editMessage: 'edit-message', deleteMessage: 'delete-message' } as const
export type TaskKind = typeof taskKinds[keyof typeof taskKinds]
export const TaskKindSchema = Type.Union([
  Type.Literal(taskKinds.sendMessage), Type.Literal(taskKinds.editMessage), Type.Literal(taskKinds.deleteMessage)
], {
  description: 'What the task does: `send-message`, `edit-message` or `delete-message`'
})

export type TaskState = Static<typeof TaskStateSchema>

export interface TasksTable {
  id: string
  kind: TaskKind
  owner_id: number
  state: ColumnType<TaskState, TaskState | undefined, TaskState>
  attempts: ColumnType<number, number | undefined, number>
  /** The job's data, so the job can be re-created from the row. */
  payload: ColumnType<unknown, string, string>
  idempotency_key: string | null
  /** A fingerprint of the request that used `idempotency_key`: a retry must match it. */
  request_hash: string | null
  message_id: number | null
  error_code: string | null
  error_message: string | null
  checked_at: Date | null
  created_at: CreatedAt
  finished_at: Date | null
}

export interface Database {
  users: UsersTable
  refresh_tokens: RefreshTokensTable
  rooms: RoomsTable
  room_members: RoomMembersTable
  messages: MessagesTable
  tasks: TasksTable
  read_marks: ReadMarksTable
}

export type User = Selectable<UsersTable>
export type NewUser = Insertable<UsersTable>
export type UserUpdate = Updateable<UsersTable>
export type Message = Selectable<MessagesTable>
export type Task = Selectable<TasksTable>
