import { sql } from 'kysely'
import type { Db } from '../core/db/connect.js'
import { hashPassword } from '../core/password.js'
import { createGroupRoom } from '../core/rooms.js'
import { findUserByUsername } from '../core/users.js'
import { demoPassword } from './demo-data.js'
import { chatWords, rareWords, tailSyllables } from './chat-words.js'
import { findSeededGroupRoom } from './seed-demo.js'

export interface VolumeProgress { start: (total: number) => void, advance: (by: number) => void, stop: () => void }

const batchSize = 1000
/** Messages per statement (and transaction): big enough that round trips do not count, small enough to show progress. */
const messageBatchSize = 50_000

/**
 * The volume rooms: "volume", "volume 2" … "volume 20". A message's room is drawn from its number with a skew, so
 * the rooms hold from 37 % of the messages ("volume") down to 1.7 % ("volume 20"): a reader's feed and rooms list
 * span rooms of different sizes, as in real chat.
 */
export const volumeRoomCount = 20
export function volumeRoomName (index: number): string {
  return index === 0 ? 'volume' : `volume ${index + 1}`
}

/**
 * A bigger demo, for people who want volume: users volume_1 … volume_N (password Passw0rd!) and M messages in the
 * volume rooms, all of which user_1 is in. Every volume user is in "volume"; the k-th of them (from 0, by id) is also
 * in room r (from 0) when k is a multiple of r + 1, so "volume 2" has half of them and "volume 20" a twentieth, and
 * each message is sent by a member of its room. Idempotent like the demo seed: fixed names and task ids, and a
 * message's room, sender and text depend on its number alone, so running it again, or with larger numbers, only adds
 * what is missing.
 *
 * Messages go in by the statement, not through the queue: a million in a minute or two. Each has a text made from its
 * number alone (words drawn from a skewed list and a long tail, now and then a rare one), 15 s after the one before.
 * While the seed writes, the search index takes new entries into its pending list (GIN `fastupdate`) and merges them
 * in bulk, instead of updating a posting list per word per message; it is set back as the migration made it (each
 * insert updates the index at once) when the seed is done, or by the next run if this one was stopped.
 */
export async function seedVolume (db: Db, options: { users: number, messages: number, progress: VolumeProgress }): Promise<{ usersCreated: number, messagesStored: number }> {
  const { progress } = options
  const owner = await findUserByUsername(db, 'user_1')
  if (owner === undefined) throw new Error('seed the demo first: user_1 is missing')

  // One hash for all: volume users exist to fill lists and feeds, and scrypt per user would take minutes.
  const passwordHash = await hashPassword(demoPassword)
  let usersCreated = 0
  progress.start(options.users + options.messages)
  for (let from = 1; from <= options.users; from += batchSize) {
    const numbers = Array.from({ length: Math.min(batchSize, options.users - from + 1) }, (_, i) => from + i)
    const inserted = await db.insertInto('users')
      .values(numbers.map((n) => ({ username: `volume_${n}`, password_hash: passwordHash, display_name: `Volume User ${n}` })))
      .onConflict((oc) => oc.expression(sql`lower(username)`).doNothing())
      .returning('id').execute()
    usersCreated += inserted.length
    progress.advance(numbers.length)
  }

  const senders = (await db.selectFrom('users').select('id')
    .where('username', 'like', 'volume\\_%').orderBy('id').limit(options.users).execute()).map(({ id }) => id)
  const roomIds: number[] = []
  for (let r = 0; r < volumeRoomCount; r++) {
    const name = volumeRoomName(r)
    const roomId = await findSeededGroupRoom(db, name, owner.id) ?? await createGroupRoom(db, { name, creatorId: owner.id, memberIds: [] })
    const members = senders.filter((_, k) => k % (r + 1) === 0)
    for (let from = 0; from < members.length; from += batchSize) {
      await db.insertInto('room_members')
        .values(members.slice(from, from + batchSize).map((id) => ({ room_id: roomId, user_id: id })))
        .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing()).execute()
    }
    roomIds.push(roomId)
  }

  let messagesStored = 0
  if (options.messages > 0) await setSearchIndexBulk(db, true)
  for (let from = 1; from <= options.messages; from += messageBatchSize) {
    const to = Math.min(options.messages, from + messageBatchSize - 1)
    messagesStored += await insertVolumeMessages(db, { roomIds, senderIds: senders, ownerId: owner.id, from, to })
    progress.advance(to - from + 1)
  }
  // Also after a run with no messages: a run stopped in bulk mode left the index so.
  await setSearchIndexBulk(db, false)
  // The planner's statistics (how common each word is, how many messages a room holds) would otherwise wait for
  // autovacuum, and search would pick its plans blind meanwhile.
  if (messagesStored > 0) await sql`analyze messages`.execute(db)
  progress.stop()
  return { usersCreated, messagesStored }
}

/**
 * Bulk mode for the search index, on or off. On: new entries go to the index's pending list (up to 64 MB) and are
 * merged into it a list at a time. Off, as the migration made it: the pending list is merged first, then each insert
 * updates the index at once again.
 */
async function setSearchIndexBulk (db: Db, bulk: boolean): Promise<void> {
  if (bulk) {
    await sql`alter index messages_search_idx set (fastupdate = on, gin_pending_list_limit = 65536)`.execute(db)
  } else {
    await sql`select gin_clean_pending_list('messages_search_idx')`.execute(db)
    await sql`alter index messages_search_idx set (fastupdate = off)`.execute(db)
    await sql`alter index messages_search_idx reset (gin_pending_list_limit)`.execute(db)
  }
}

/**
 * Volume messages `from` … `to` that are not stored yet, in one statement: the rooms are locked (in id order) and
 * their seqs and change numbers taken for them, as the worker does. Answers how many were stored.
 */
async function insertVolumeMessages (db: Db, batch: { roomIds: number[], senderIds: number[], ownerId: number, from: number, to: number }): Promise<number> {
  const { roomIds, senderIds, ownerId, from, to } = batch
  // A number in [0, 1) from message n's k-th hash, so the same n always gets the same text, room and sender.
  const draw = (k: unknown) => sql`((hashint8(w.n * 128 + ${k}) & 2147483647)::float8 / 2147483648)`
  // Room r's members among the volume users are the k-th with k a multiple of r + 1: ceil(users / (r + 1)) of them.
  const users = senderIds.length
  // Memory for merging the search index's pending list, which an insert does when the list is full; no wait for the
  // WAL to reach the disk at each commit (a crash loses the last batches, which the next run adds again).
  return await db.transaction().execute(async (trx) => {
    await sql`set local work_mem = '64MB'`.execute(trx)
    await sql`set local synchronous_commit = off`.execute(trx)
    const { rows } = await sql<{ stored: number }>`
    with room as (
      select r.id, r.last_seq, r.last_change_seq, v.ord - 1 as r
      from rooms r join unnest(${roomIds}::bigint[]) with ordinality as v(id, ord) on v.id = r.id
      order by r.id for update of r
    ), wanted as (
      select w.n, least(floor(power(${draw(125)}, 3) * ${roomIds.length})::int, ${roomIds.length - 1}) as r
      from generate_series(${from}::bigint, ${to}::bigint) as w(n)
      where not exists (select 1 from messages m where m.task_id = 'seed:volume:' || w.n)
    ), numbered as (
      select w.n, w.r, row_number() over (partition by w.r order by w.n) as i from wanted w
    ), stored as (
      insert into messages (room_id, seq, change_seq, sender_id, text, task_id, created_at)
      select room.id, room.last_seq + w.i, room.last_change_seq + w.i,
        case when ${users} = 0 then ${ownerId}::bigint
          else (${senderIds}::bigint[])[1 + (w.r + 1) * floor(${draw(124)} * ceil(${users}::float8 / (w.r + 1)))::int] end,
        (select string_agg(case
            when ${draw(sql`k + 16`)} < 0.85 then (${chatWords}::text[])[1 + floor(power(${draw(sql`k`)}, 2.5) * ${chatWords.length})::int]
            else (select string_agg((${tailSyllables}::text[])[1 + floor(power(${draw(sql`k * 4 + j + 64`)}, 1.5) * ${tailSyllables.length})::int], '')
              from generate_series(0, 1 + floor(${draw(sql`k + 48`)} * 2)::int) as j)
          end, ' ')
          from generate_series(1, 3 + floor(${draw(0)} * 12)::int) as k)
          || case when ${draw(127)} < 0.001 then ' ' || (${rareWords}::text[])[1 + floor(${draw(126)} * ${rareWords.length})::int] else '' end,
        'seed:volume:' || w.n,
        timestamptz '2026-01-01T00:00:00Z' + w.n * interval '15 seconds'
      from numbered w join room on room.r = w.r
      returning room_id
    ), counted as (
      select room_id, count(*) as k from stored group by room_id
    ), moved as (
      update rooms set last_seq = last_seq + counted.k, last_change_seq = last_change_seq + counted.k
      from counted where rooms.id = counted.room_id
      returning counted.k
    )
    select coalesce(sum(k), 0)::int as stored from moved`.execute(trx)
    return rows[0]?.stored ?? 0
  })
}
