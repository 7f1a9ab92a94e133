import { invalidCursor } from './errors.js'

/** Opaque cursors: base64url JSON tagged with what they page over, so one list's cursor is refused by another. */
export function encodeCursor (kind: string, value: unknown): string {
  return Buffer.from(JSON.stringify({ k: kind, v: value })).toString('base64url')
}

function decodeCursor (cursor: string, kind: string): unknown {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { k?: unknown }).k !== kind) throw invalidCursor()
  return (parsed as { v?: unknown }).v
}

function isCount (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/** A keyset cursor over one number (an id or a seq). */
export function decodePositionCursor (cursor: string, kind: 'id' | 'seq'): number {
  const value = decodeCursor(cursor, kind)
  if (!isCount(value)) throw invalidCursor()
  return value
}

/** The unseen feed's cursor: per room id, the highest seq the response that gave it held. */
export function encodeSeenCursor (seenUpTo: ReadonlyMap<number, number>): string {
  return encodeCursor('seen', Object.fromEntries(seenUpTo))
}

export function decodeSeenCursor (cursor: string): Map<number, number> {
  const value = decodeCursor(cursor, 'seen')
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidCursor()
  const entries = Object.entries(value)
  if (entries.length > 10_000) throw invalidCursor()
  const seenUpTo = new Map<number, number>()
  for (const [roomId, seq] of entries) {
    if (!/^[1-9][0-9]{0,15}$/.test(roomId) || !isCount(seq)) throw invalidCursor()
    seenUpTo.set(Number(roomId), seq)
  }
  return seenUpTo
}

/** A list response: `nextCursor` points past the page's last row when another page follows, else null. */
export function toPage<Row, Item> (page: { rows: Row[], hasMore: boolean }, view: (row: Row) => Item, position: (last: Row) => string) {
  const last = page.rows.at(-1)
  return { items: page.rows.map((row) => view(row)), nextCursor: page.hasMore && last !== undefined ? position(last) : null }
}
