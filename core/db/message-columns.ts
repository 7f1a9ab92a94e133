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
