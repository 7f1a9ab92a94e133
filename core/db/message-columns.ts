import { sql, type RawBuilder } from 'kysely'

/**
 * A message's columns, for every read that returns whole messages: `select *` would also carry the search vector (a
 * generated `tsvector`, often longer than the text, parsed as a string on every row) that no answer shows.
 */
export const messageColumns = ['id', 'room_id', 'seq', 'sender_id', 'text', 'task_id', 'change_seq', 'created_at', 'edited_at', 'deleted_at'] as const

/** The same columns for a `sql` template, each qualified by `alias` when given. */
export function messageColumnList (alias?: string): RawBuilder<unknown> {
  return sql.raw(messageColumns.map((column) => alias === undefined ? column : `${alias}.${column}`).join(', '))
}

/** A timestamp as the answers write it (JavaScript's `toISOString`: UTC, milliseconds, truncated as a Date truncates). */
const isoTime = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * A message as the answers show it (MessageSchema in api/schemas/messages.ts: its fields, in its order, named as there),
 * as columns of a row Postgres turns into JSON (`row_to_json`), so that a page can pass from Postgres to the client as
 * text: no row objects, no dates parsed and printed again, no serializer. Qualified by `alias` when given.
 */
export function messageViewColumnList (alias?: string): RawBuilder<unknown> {
  const column = (name: string) => alias === undefined ? name : `${alias}.${name}`
  return sql.raw([
    `${column('id')} as "id"`,
    `${column('room_id')} as "roomId"`,
    `${column('seq')} as "seq"`,
    `${column('sender_id')} as "senderId"`,
    `${column('text')} as "text"`,
    `${isoTime(column('created_at'))} as "createdAt"`,
    `${isoTime(column('edited_at'))} as "editedAt"`,
    `${isoTime(column('deleted_at'))} as "deletedAt"`
  ].join(', '))
}
