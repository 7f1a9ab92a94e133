import { sql } from 'kysely'
import type { Db } from './db/connect.js'
import type { Message } from './db/schema.js'

// A member's read watermark (room_members.last_read_seq) is the seq up to which they have seen the room: unread
// counts and the unseen feed both start above it. read_marks records when each one moved, for "seen by whom, when";
// old moves are merged (mergeOldReadMarks), so the table holds each member's recent moves and a few rows more.

/**
 * Moves the user's watermarks forward to the given seqs, never back and never past the room's last message.
 * Idempotent: applying the same acknowledgement twice changes nothing. Rooms the user is not in are ignored.
 */
export async function markSeenUpTo (db: Db, userId: number, seenUpTo: ReadonlyMap<number, number>): Promise<Map<number, number>> {
  const moved = await markSeenMany(db, [...seenUpTo].map(([roomId, seq]) => ({ userId, roomId, seq })))
  return new Map(moved.map((row) => [row.roomId, row.seq]))
}

/**
 * Many users' acknowledgements in one statement (the highest seq wins where they overlap); answers the watermarks
 * as they stand after it, for the rows it touched.
 */
export async function markSeenMany (db: Db, acks: Array<{ userId: number, roomId: number, seq: number }>): Promise<Array<{ userId: number, roomId: number, seq: number }>> {
  if (acks.length === 0) return []
  // The rows are locked in (room, user) order first, so acknowledgements running at once (two clients of one user,
  // a feed ack beside POST /read, batches of other workers) wait for each other instead of deadlocking.
  const { rows } = await sql<{ room_id: number, user_id: number, last_read_seq: number }>`
    with w as (
      select room_id, user_id, max(seq) as seq
      from unnest(${acks.map((ack) => ack.roomId)}::bigint[], ${acks.map((ack) => ack.userId)}::bigint[], ${acks.map((ack) => ack.seq)}::bigint[])
        as w(room_id, user_id, seq)
      group by room_id, user_id
    ), locked as (
      select rm.room_id, rm.user_id, rm.last_read_seq as before from room_members rm join w on w.room_id = rm.room_id and w.user_id = rm.user_id
      order by rm.room_id, rm.user_id for update of rm
    ), moved as (
      update room_members rm
      set last_read_seq = greatest(rm.last_read_seq, least(w.seq, r.last_seq))
      from w, rooms r, locked
      where rm.user_id = w.user_id and rm.room_id = w.room_id and r.id = w.room_id
        and locked.room_id = rm.room_id and locked.user_id = rm.user_id
      returning rm.room_id, rm.user_id, rm.last_read_seq, locked.before
    ), marks as (
      -- When each watermark moved, for "seen by whom, when".
      insert into read_marks (room_id, user_id, up_to_seq)
      select room_id, user_id, last_read_seq from moved where last_read_seq > before
    )
    select room_id, user_id, last_read_seq from moved`.execute(db)
  return rows.map((row) => ({ userId: row.user_id, roomId: row.room_id, seq: row.last_read_seq }))
}

export interface SeenBy { userId: number, seenAt: Date | null }

/**
 * The members other than its sender whose read watermark passed the message, with when it first did
 * (null when it passed on joining the room, or before watermark moves were timed). Exact for moves younger than
 * the merge's `exactSeconds`; for older ones, the end of that span of time (see mergeOldReadMarks).
 */
export async function seenByOf (db: Db, message: Pick<Message, 'room_id' | 'seq' | 'sender_id'>): Promise<SeenBy[]> {
  const rows = await db.selectFrom('room_members as rm')
    .select((eb) => ['rm.user_id', eb.selectFrom('read_marks as r').select((eb) => eb.fn.min('r.read_at').as('at'))
      .whereRef('r.room_id', '=', 'rm.room_id').whereRef('r.user_id', '=', 'rm.user_id').where('r.up_to_seq', '>=', message.seq)
      .as('seen_at')])
    .where('rm.room_id', '=', message.room_id).where('rm.last_read_seq', '>=', message.seq)
    .where(sql<boolean>`rm.user_id is distinct from ${message.sender_id}`)
    .orderBy('rm.user_id').execute()
  return rows.map((row) => ({ userId: row.user_id, seenAt: row.seen_at === null ? null : new Date(row.seen_at as unknown as string) }))
}

export interface ReadMarksMerge {
  /** Moves younger than this are kept as they are. */
  exactSeconds: number
  /** Moves older than this are merged into one per member; between the two, one per member per `exactSeconds`. */
  keepSeconds: number
  /** Members per statement: each statement locks (FOR KEY SHARE) only these, and only for itself. */
  batch: number
}

/**
 * Merges old read watermark moves, one batch of members (in key order, after `after`) per call: the moves of one
 * member in one span of time become one row, the span's last move (its highest seq, at its latest time). Since a
 * watermark only moves forward, "when did it first pass seq N" then answers the end of the span it passed N in:
 * never earlier than the truth, later by less than the span. Members busy acknowledging right now are skipped
 * (SKIP LOCKED) and merged next time. Answers the rows removed and where the next batch starts (null: done).
 */
export async function mergeOldReadMarks (db: Db, options: ReadMarksMerge & { after?: { roomId: number, userId: number } }): Promise<{ removed: number, next: { roomId: number, userId: number } | null }> {
  const { exactSeconds, keepSeconds, batch, after = { roomId: 0, userId: 0 } } = options
  const exactBefore = sql`now() - make_interval(secs => ${exactSeconds})`
  const keepBefore = sql`now() - make_interval(secs => ${keepSeconds})`
  // Which span a move falls in: one per `exactSeconds` of time, or, past `keepSeconds`, one for all (null).
  const span = (alias: string) => sql`case when ${sql.ref(`${alias}.read_at`)} < ${keepBefore} then null
    else floor(extract(epoch from ${sql.ref(`${alias}.read_at`)}) / ${exactSeconds}::int) end`
  const { rows } = await sql<{ removed: number, members: number, last_room: number | null, last_user: number | null }>`
    with members as (
      select room_id, user_id from room_members
      where (room_id, user_id) > (${after.roomId}::bigint, ${after.userId}::bigint)
      order by room_id, user_id limit ${batch}
      for key share skip locked
    ), spans as (
      select m.room_id, m.user_id, ${span('m')} as span
      from read_marks m join members using (room_id, user_id)
      where m.read_at < ${exactBefore}
      group by 1, 2, 3 having count(*) > 1
    ), gone as (
      delete from read_marks m using spans s
      where m.room_id = s.room_id and m.user_id = s.user_id and m.read_at < ${exactBefore} and ${span('m')} is not distinct from s.span
      returning m.room_id, m.user_id, s.span, m.up_to_seq, m.read_at
    ), merged as (
      insert into read_marks (room_id, user_id, up_to_seq, read_at)
      select room_id, user_id, max(up_to_seq), max(read_at) from gone group by room_id, user_id, span
    ), last as (
      select room_id, user_id from members order by room_id desc, user_id desc limit 1
    )
    select (select count(*) from gone)::int - (select count(*) from (select distinct room_id, user_id, span from gone) g)::int as removed,
      (select count(*) from members)::int as members,
      (select room_id from last) as last_room, (select user_id from last) as last_user`.execute(db)
  const row = rows[0]
  if (row === undefined) throw new Error('the merge answered no row')
  const next = row.members < batch || row.last_room === null || row.last_user === null
    ? null
    : { roomId: Number(row.last_room), userId: Number(row.last_user) }
  return { removed: row.removed, next }
}
