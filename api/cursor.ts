import { createHash, createHmac, hash, timingSafeEqual } from 'node:crypto'
import { cursorSecrets, type Config } from '../core/config.js'
import type { SearchPosition } from '../core/search.js'
import type { FeedPosition } from '../core/unseen-feed.js'
import { invalidCursor } from './errors.js'

/**
 * Cursors are sealed, so the server can trust what one says: base64url JSON `{ k, v }` (`k`: what it pages over, so
 * one list's cursor is refused by another), a dot, and the first 128 bits of an HMAC-SHA256 of that text under the
 * first cursor key, base64url. Every key opens, so keys rotate without refusing the cursors clients hold. An edited
 * or forged cursor, or one sealed with a key no longer listed, is malformed: 400 INVALID_CURSOR.
 *
 * A cursor from before cursors were sealed (the same JSON without the dot and seal) still opens, marked unsealed:
 * any keyset position is one a client could page to, and the feed takes an unsealed cursor only while it claims
 * nothing its rooms did not hold (see startingPosition in api/feed.ts).
 */

/** The keys that open cursors, the sealing one first: each secret of CURSOR_KEYS, then the one JWT_SECRET gives. */
export function cursorKeysOf (config: Pick<Config, 'CURSOR_KEYS' | 'JWT_SECRET'>): Buffer[] {
  // Derived, not the secrets themselves: a cursor's seal never doubles as a token signature.
  return [...cursorSecrets(config.CURSOR_KEYS), config.JWT_SECRET]
    .map((secret) => createHmac('sha256', secret).update('pigeon cursor key').digest())
}

type PageKind = 'id' | 'seq'

/** Where a feed cursor puts its reader; `trusted` when the server sealed it for this user, or there was no cursor. */
export interface OpenedFeedCursor {
  position: FeedPosition
  trusted: boolean
}

export type Cursors = ReturnType<typeof createCursors>

export function createCursors (keys: readonly Buffer[]) {
  const tags = keys.map(tagger)
  const [sealingTag] = tags
  if (sealingTag === undefined) throw new Error('cursors need a key to seal them with')

  /** A JSON text sealed: base64url, a dot, its tag. */
  function sealText (json: string): string {
    const payload = Buffer.from(json).toString('base64url')
    return `${payload}.${(sealingTag as Tagger)(payload)}`
  }

  const seal = (content: object): string => sealText(JSON.stringify(content))

  /** What a cursor says, and whether it was sealed; a seal that none of the keys makes is malformed. */
  function open (cursor: string): { content: { k?: unknown, u?: unknown, v?: unknown }, sealed: boolean } {
    const [payload = '', tag, ...more] = cursor.split('.')
    if (more.length > 0) throw invalidCursor()
    // The tag is compared as text: base64url decoding skips stray characters, so an edited tag could decode alike.
    if (tag !== undefined && !tags.some((tagOf) => sameText(tagOf(payload), tag))) throw invalidCursor()
    let content: unknown
    try {
      content = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      throw invalidCursor()
    }
    if (typeof content !== 'object' || content === null) throw invalidCursor()
    return { content, sealed: tag !== undefined }
  }

  return {
    /** A keyset cursor over one number (an id or a seq). */
    sealPage: (kind: PageKind, value: number): string => seal({ k: kind, v: value }),

    openPage (cursor: string, kind: PageKind): number {
      const { k, v } = open(cursor).content
      if (k !== kind || !isCount(v)) throw invalidCursor()
      return v
    },

    /** A search's next page: newest first `{ o: 'n', b }`, by rank `{ o: 'r', t, r, i }`. */
    sealSearch: (position: SearchPosition): string => seal({
      k: 'search',
      v: position.order === 'newest' ? { o: 'n', b: position.beforeId } : { o: 'r', t: position.top, r: position.rank, i: position.id }
    }),

    /** Search cursors were sealed from the start: an unsealed one, or one of the other order, is malformed. */
    openSearch (cursor: string, order: SearchPosition['order']): SearchPosition {
      const { content: { k, v }, sealed } = open(cursor)
      if (!sealed || k !== 'search' || typeof v !== 'object' || v === null) throw invalidCursor()
      const { o, b, t, r, i } = v as Record<string, unknown>
      if (order === 'newest' && o === 'n' && isCount(b)) return { order, beforeId: b }
      if (order === 'rank' && o === 'r' && isCount(t) && isCount(i) && typeof r === 'number' && Number.isFinite(r)) return { order, top: t, rank: r, id: i }
      throw invalidCursor()
    },

    /**
     * The unseen feed's cursor, for one user: per room id, the highest seq the response that gave it held (`s`), and
     * the change number up to which it told of edits and deletes (`c`).
     */
    sealFeed: (userId: number, position: Required<FeedPosition>): string =>
      sealText(`{"k":"feed","u":${userId},"v":{"s":${roomJson(position.seenUpTo)},"c":${roomJson(position.changesAfter)}}}`),

    /**
     * No cursor is the start: nothing held beyond the stored watermarks, every room at its current change number.
     * A sealed cursor is this user's own or malformed. Unsealed ones are the two kinds from before sealing: `feed`,
     * and `seen` (seqs only, from before changes were told: its rooms start at their current change number).
     */
    openFeed (userId: number, cursor: string | undefined): OpenedFeedCursor {
      if (cursor === undefined) return { position: { seenUpTo: new Map() }, trusted: true }
      const { content: { k, u, v }, sealed } = open(cursor)
      if (sealed && (k !== 'feed' || u !== userId)) throw invalidCursor()
      if (!sealed && k === 'seen') return { position: { seenUpTo: roomNumbers(v) }, trusted: false }
      if (k !== 'feed' || typeof v !== 'object' || v === null) throw invalidCursor()
      const { s, c } = v as { s?: unknown, c?: unknown }
      return { position: { seenUpTo: roomNumbers(s), changesAfter: roomNumbers(c) }, trusted: sealed }
    }
  }
}

type Tagger = (payload: string) => string

/**
 * A cursor's tag under one key: the first 128 bits of HMAC-SHA256 (RFC 2104) of the text's UTF-8, base64url, what
 * `createHmac` gives, made as two one-shot hashes over the key's padded blocks, which are made once: a message to
 * 2,000 sockets seals 2,000 cursors, and a Hmac object each cost more than the hashing.
 */
function tagger (key: Buffer): Tagger {
  const block = 64
  const padded = Buffer.alloc(block)
  ;(key.length > block ? createHash('sha256').update(key).digest() : key).copy(padded)
  const innerPad = Buffer.from(padded.map((byte) => byte ^ 0x36))
  const outer = Buffer.alloc(block + 32)
  padded.forEach((byte, i) => { outer[i] = byte ^ 0x5c })
  // Reused for every tag (nothing runs between writing it and hashing it); grown when a longer text comes.
  let inner = Buffer.alloc(block + 512)
  innerPad.copy(inner)
  return (payload) => {
    const length = block + Buffer.byteLength(payload)
    if (inner.length < length) {
      inner = Buffer.alloc(length)
      innerPad.copy(inner)
    }
    inner.write(payload, block, 'utf8')
    hash('sha256', inner.subarray(0, length), 'buffer').copy(outer, block)
    return hash('sha256', outer, 'buffer').subarray(0, 16).toString('base64url')
  }
}

function sameText (a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

function isCount (value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/** Room id → count as a JSON object, in room id order: one position always seals to the same cursor. */
function roomJson (numbers: ReadonlyMap<number, number>): string {
  let json = ''
  for (const [roomId, n] of numbers.size > 1 ? [...numbers].sort(([a], [b]) => a - b) : numbers) json += `${json === '' ? '' : ','}"${roomId}":${n}`
  return `{${json}}`
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
