import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { messageColumnList } from './db/message-columns.js'
import { pageOf } from './paging.js'

/**
 * Full-text search over the messages of the rooms a user is in now, by the stored `search_vector` (GIN-indexed,
 * generated from the text: an edit replaces it, a delete empties it). Two orders:
 *
 * - `newest`: by message id, newest first. The rooms are passed as values, so the planner sees how many messages
 *   they hold: a common word walks the id index backwards and stops after a page, a rare one reads its few matches
 *   from the GIN index and sorts them.
 * - `rank`: `ts_rank`, best first, among the newest `rankWindow` matches. Ranking reads every match it orders, so it
 *   is bounded: a common word would otherwise rank hundreds of thousands of rows per page.
 *
 * `ts_headline` reads the text again and uses no index, so it runs on the returned page only.
 */

/** How many of the newest matches `order=rank` orders. */
export const rankWindow = 1000

/** Where the next page starts: below an id (newest first), or below a rank and id within a window (by rank). */
export type SearchPosition =
  | { order: 'newest', beforeId: number }
  /** `top`: the newest message id of the window the first page ranked, so later pages rank the same window. */
  | { order: 'rank', top: number, rank: number, id: number }

export interface SearchRequest {
  /** The rooms to search: those the user is in now (see searchScope). */
  roomIds: number[]
  /** What the user typed: `websearch_to_tsquery` syntax (words, "a phrase", or, -word). */
  q: string
  order: 'newest' | 'rank'
  senderId?: number
  limit: number
  after?: SearchPosition
}

export interface SearchHit { message: Message, rank: number, highlight: string }

export interface SearchPage { rows: SearchHit[], hasMore: boolean, next: (last: SearchHit) => SearchPosition }

export type SearchScope =
  | { kind: 'rooms', roomIds: number[] }
  /** `q` has no word to look up: only operators, only words too common to index, or only excluded words. */
  | { kind: 'no-words' }
  /** `roomId` is not a room of the user's. */
  | { kind: 'not-a-member' }

const configuration = sql`'pigeon_search'::regconfig`
const columns = messageColumnList('m')

/**
 * What a user may search: the rooms they are in now (or the one asked for, if they are in it), and whether `q` can
 * use the index at all (a query of only `-word` would match nearly everything, by reading everything). On the
 * primary: a room left a moment ago is never searched.
 */
export async function searchScope (db: Db, request: { userId: number, q: string, roomId?: number }): Promise<SearchScope> {
  const { userId, q, roomId } = request
  const { rows: [check] } = await sql<{ room_ids: number[] | null, nodes: number, indexable: string }>`
    select
      (select array_agg(room_id) from room_members where user_id = ${userId}
        ${roomId === undefined ? sql`` : sql`and room_id = ${roomId}`}) as room_ids,
      numnode(query) as nodes, querytree(query) as indexable
    from websearch_to_tsquery(${configuration}, ${q}) as query`.execute(db)
  if (check === undefined || check.nodes === 0 || check.indexable === 'T') return { kind: 'no-words' }
  if (check.room_ids === null && roomId !== undefined) return { kind: 'not-a-member' }
  return { kind: 'rooms', roomIds: check.room_ids ?? [] }
}

/** A page of matches in `roomIds`; may run on a read replica (a message stored a moment ago may be missing). */
export async function searchMessages (db: Db, request: SearchRequest): Promise<SearchPage> {
  const { q, limit } = request
  const matches = sql`m.room_id = any(${request.roomIds}::bigint[])
    and m.search_vector @@ websearch_to_tsquery(${configuration}, ${q})
    ${request.senderId === undefined ? sql`` : sql`and m.sender_id = ${request.senderId}`}`
  // Marks no message text can hold by chance: the highlight is escaped as HTML, then the marks become <mark>.
  const mark = randomBytes(9).toString('base64url')
  const headline = sql`ts_headline(${configuration}, p.text, websearch_to_tsquery(${configuration}, ${q}),
    ${`StartSel="[${mark}", StopSel="${mark}]", MaxWords=35, MinWords=15`})`
  const rank = sql`ts_rank(m.search_vector, websearch_to_tsquery(${configuration}, ${q}))`

  let rows: Array<Message & { rank: number, headline: string, window_top?: number }>
  if (request.order === 'newest') {
    const beforeId = request.after?.order === 'newest' ? request.after.beforeId : Number.MAX_SAFE_INTEGER
    rows = (await sql<Message & { rank: number, headline: string }>`
      select p.*, ${headline} as headline from (
        select ${columns}, ${rank} as rank from messages m
        where ${matches} and m.id < ${beforeId}
        order by m.id desc limit ${limit + 1}
      ) p order by p.id desc`.execute(db)).rows
  } else {
    const after = request.after?.order === 'rank' ? request.after : undefined
    rows = (await sql<Message & { rank: number, headline: string, window_top: number }>`
      with window_rows as (
        select ${columns}, ${rank} as rank from messages m
        where ${matches} ${after === undefined ? sql`` : sql`and m.id <= ${after.top}`}
        order by m.id desc limit ${rankWindow}
      ), ranked as (
        select w.*, max(w.id) over () as window_top from window_rows w
      )
      select p.*, ${headline} as headline from (
        select * from ranked
        ${after === undefined ? sql`` : sql`where (rank, id) < (${after.rank}::real, ${after.id})`}
        order by rank desc, id desc limit ${limit + 1}
      ) p order by p.rank desc, p.id desc`.execute(db)).rows
  }

  const page = pageOf(rows.map((row) => {
    const { rank, headline, window_top: _top, ...message } = row
    return { message, rank, highlight: highlightHtml(headline, mark) }
  }), limit)
  const top = request.after?.order === 'rank' ? request.after.top : rows[0]?.window_top ?? 0
  return {
    ...page,
    next: (last) => request.order === 'newest'
      ? { order: 'newest', beforeId: last.message.id }
      : { order: 'rank', top, rank: last.rank, id: last.message.id }
  }
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** The headline as HTML: its text escaped, each match in `<mark>`. */
function highlightHtml (headline: string, mark: string): string {
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => htmlEscapes[c] ?? c)
  return headline.split(`[${mark}`).map((part, i) => {
    if (i === 0) return escape(part)
    const [matched = '', ...rest] = part.split(`${mark}]`)
    return `<mark>${escape(matched)}</mark>${escape(rest.join(`${mark}]`))}`
  }).join('')
}
