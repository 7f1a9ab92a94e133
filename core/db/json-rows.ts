import type { Message } from './schema.js'

/**
 * A message row that Postgres built as JSON (`to_json`, kysely's `jsonObjectFrom`) so that it could come back in
 * the same query as its parent row: JSON carries timestamps as strings, so they become Dates again here.
 */
export function messageFromJson (json: Record<string, unknown>): Message {
  const date = (value: unknown) => value === null || value === undefined ? null : new Date(value as string)
  return {
    ...(json as unknown as Message),
    created_at: new Date(json.created_at as string),
    edited_at: date(json.edited_at),
    deleted_at: date(json.deleted_at)
  }
}
