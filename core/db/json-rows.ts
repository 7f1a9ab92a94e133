import type { Message, Task } from './schema.js'

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

/** A task row built as JSON (the answered columns of core/tasks.ts), its timestamps Dates again. */
export function taskFromJson (json: Record<string, unknown>): Pick<Task, 'id' | 'kind' | 'owner_id' | 'state' | 'attempts' | 'created_at' | 'finished_at' | 'error_code' | 'error_message'> {
  return {
    id: json.id as string,
    kind: json.kind as Task['kind'],
    owner_id: json.owner_id as number,
    state: json.state as Task['state'],
    attempts: json.attempts as number,
    created_at: new Date(json.created_at as string),
    finished_at: json.finished_at === null || json.finished_at === undefined ? null : new Date(json.finished_at as string),
    error_code: (json.error_code ?? null) as string | null,
    error_message: (json.error_message ?? null) as string | null
  }
}
