import type { FeedPosition } from '../core/unseen-feed.js'
import { invalidCursor } from './errors.js'

/** Opaque cursors: base64url JSON tagged with what they page over, so one list's cursor is refused by another. */
export function encodeCursor (kind: string, value: unknown): string {
  return Buffer.from(JSON.stringify({ k: kind, v: value })).toString('base64url')
}

function decodeCursor (cursor: string, kind: string): unknown {
  const { k, v } = decodeAnyCursor(cursor)
  if (k !== kind) throw invalidCursor()
  return v
}

function decodeAnyCursor (cursor: string): { k: unknown, v: unknown } {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalidCursor()
  return parsed as { k: unknown, v: unknown }
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

/**
 * The unseen feed's cursor: per room id, the highest seq the response that gave it held (`s`), and the change
 * number up to which it told of edits and deletes (`c`). A cursor from before changes were told (kind `seen`,
 * seqs only) is still read: its rooms start at their current change number.
 */
export function encodeFeedCursor (position: Required<FeedPosition>): string {
  return encodeCursor('feed', { s: Object.fromEntries(position.seenUpTo), c: Object.fromEntries(position.changesAfter) })
}

/** No cursor is the start: nothing held beyond the stored watermarks, every room at its current change number. */
export function decodeFeedCursor (cursor: string | undefined): FeedPosition {
  if (cursor === undefined) return { seenUpTo: new Map() }
  const { k, v } = decodeAnyCursor(cursor)
  if (k === 'seen') return { seenUpTo: roomNumbers(v) }
  if (k !== 'feed' || typeof v !== 'object' || v === null) throw invalidCursor()
  const { s, c } = v as { s?: unknown, c?: unknown }
  return { seenUpTo: roomNumbers(s), changesAfter: roomNumbers(c) }
}

/** An object of room id → count, as a map; anything else is a malformed cursor. */
function roomNumbers (value: unknown): Map<number, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidCursor()
  const entries = Object.entries(value)
  if (entries.length > 10_000) throw invalidCursor()
  const numbers = new Map<number, number>()
  for (const [roomId, n] of entries) {
    if (!/^[1-9][0-9]{0,15}$/.test(roomId) || !isCount(n)) throw invalidCursor()
    numbers.set(Number(roomId), n)
  }
  return numbers
}

/** A list response: `nextCursor` points past the page's last row when another page follows, else null. */
export function toPage<Row, Item> (page: { rows: Row[], hasMore: boolean }, view: (row: Row) => Item, position: (last: Row) => string) {
  const last = page.rows.at(-1)
  return { items: page.rows.map((row) => view(row)), nextCursor: page.hasMore && last !== undefined ? position(last) : null }
}
