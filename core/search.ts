import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'
import { messageColumns } from './messages.js'
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
  userId: number
  /** What the user typed: `websearch_to_tsquery` syntax (words, "a phrase", or, -word). */
  q: string
  order: 'newest' | 'rank'
  roomId?: number
  senderId?: number
  limit: number
  after?: SearchPosition
}

export interface SearchHit { message: Message, rank: number, highlight: string }

export type SearchOutcome =
  | { kind: 'page', rows: SearchHit[], hasMore: boolean, next: (last: SearchHit) => SearchPosition }
  /** `q` has no word to look up: only operators, only words too common to index, or only excluded words. */
  | { kind: 'no-words' }
  /** `roomId` is not a room of the user's. */
  | { kind: 'not-a-member' }

// Every vector and query uses this configuration, made by the migration and mapped by SEARCH_LANGUAGE.
const configuration = sql`'pigeon_search'::regconfig`
const columns = sql.raw(messageColumns.map((column) => `m.${column}`).join(', '))

export async function searchMessages (db: Db, request: SearchRequest): Promise<SearchOutcome> {
  const { userId, q, roomId, limit } = request
  // One round trip for what the search needs to know first: my rooms, and whether q can use the index at all
  // (a query of only `-word` would match nearly everything, by reading everything).
  const { rows: [check] } = await sql<{ room_ids: number[] | null, nodes: number, indexable: string }>`
    select
      (select array_agg(room_id) from room_members where user_id = ${userId}
        ${roomId === undefined ? sql`` : sql`and room_id = ${roomId}`}) as room_ids,
      numnode(query) as nodes, querytree(query) as indexable
    from websearch_to_tsquery(${configuration}, ${q}) as query`.execute(db)
  if (check === undefined || check.nodes === 0 || check.indexable === 'T') return { kind: 'no-words' }
  if (check.room_ids === null) return roomId === undefined ? emptyPage() : { kind: 'not-a-member' }

  const matches = sql`m.room_id = any(${check.room_ids}::bigint[])
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
    kind: 'page',
    ...page,
    next: (last) => request.order === 'newest'
      ? { order: 'newest', beforeId: last.message.id }
      : { order: 'rank', top, rank: last.rank, id: last.message.id }
  }
}

function emptyPage (): SearchOutcome {
  return { kind: 'page', rows: [], hasMore: false, next: () => ({ order: 'newest', beforeId: 0 }) }
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
