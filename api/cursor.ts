import createError from '@fastify/error'

const InvalidCursorError = createError('INVALID_CURSOR', 'The cursor is malformed; pass back a cursor exactly as the API gave it.', 400)

/** Opaque cursors: base64url JSON tagged with what they page over, so one list's cursor is refused by another. */
export function encodeCursor (kind: string, value: unknown): string {
  return Buffer.from(JSON.stringify({ k: kind, v: value })).toString('base64url')
}

export function decodeCursor (cursor: string, kind: 'id'): number
export function decodeCursor (cursor: string, kind: string): unknown
export function decodeCursor (cursor: string, kind: string): unknown {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursorError()
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { k?: unknown }).k !== kind) throw new InvalidCursorError()
  const value = (parsed as { v?: unknown }).v
  if (kind === 'id' && !(Number.isSafeInteger(value) && (value as number) >= 0)) throw new InvalidCursorError()
  return value
}
