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
const messageBatchSize = 20_000

/**
 * A bigger demo, for people who want volume: users volume_1 … volume_N (password Passw0rd!) in one group
 * room "volume" with user_1, and M messages in it. Idempotent like the demo seed: fixed names and task
 * ids, so running it again, or with larger numbers, only adds what is missing.
 *
 * Messages go in by the statement, not through the queue: a million in a few minutes. Each has a text made from
 * its number alone (words drawn from a skewed list and a long tail, now and then a rare one), 15 s after the one before.
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

  const senders = await db.selectFrom('users').select('id')
    .where('username', 'like', 'volume\\_%').orderBy('id').limit(options.users).execute()
  const roomId = await findSeededGroupRoom(db, 'volume', owner.id) ??
    await createGroupRoom(db, { name: 'volume', creatorId: owner.id, memberIds: [] })
  for (let from = 0; from < senders.length; from += batchSize) {
    await db.insertInto('room_members')
      .values(senders.slice(from, from + batchSize).map(({ id }) => ({ room_id: roomId, user_id: id })))
      .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing()).execute()
  }

  const senderIds = senders.length === 0 ? [owner.id] : senders.map(({ id }) => id)
  let messagesStored = 0
  for (let from = 1; from <= options.messages; from += messageBatchSize) {
    const to = Math.min(options.messages, from + messageBatchSize - 1)
    messagesStored += await insertVolumeMessages(db, { roomId, senderIds, from, to })
    progress.advance(to - from + 1)
  }
  // The planner's statistics (how common each word is, how many messages a room holds) would otherwise wait for
  // autovacuum, and search would pick its plans blind meanwhile.
  if (messagesStored > 0) await sql`analyze messages`.execute(db)
  progress.stop()
  return { usersCreated, messagesStored }
}

/**
 * Volume messages `from` … `to` that are not stored yet, in one statement: the room is locked and its seqs and change
 * numbers taken for them, as the worker does. Answers how many were stored.
 */
async function insertVolumeMessages (db: Db, batch: { roomId: number, senderIds: number[], from: number, to: number }): Promise<number> {
  const { roomId, senderIds, from, to } = batch
  // A number in [0, 1) from message n's k-th hash, so the same n always gets the same text.
  const draw = (k: unknown) => sql`((hashint8(w.n * 128 + ${k}) & 2147483647)::float8 / 2147483648)`
  const { rows } = await sql<{ stored: number }>`
    with room as (
      select id, last_seq, last_change_seq from rooms where id = ${roomId} for update
    ), wanted as (
      select n, row_number() over (order by n) as i
      from generate_series(${from}::bigint, ${to}::bigint) as n
      where not exists (select 1 from messages m where m.task_id = 'seed:volume:' || n)
    ), stored as (
      insert into messages (room_id, seq, change_seq, sender_id, text, task_id, created_at)
      select room.id, room.last_seq + w.i, room.last_change_seq + w.i,
        (${senderIds}::bigint[])[1 + w.n % ${senderIds.length}],
        (select string_agg(case
            when ${draw(sql`k + 16`)} < 0.85 then (${chatWords}::text[])[1 + floor(power(${draw(sql`k`)}, 2.5) * ${chatWords.length})::int]
            else (select string_agg((${tailSyllables}::text[])[1 + floor(power(${draw(sql`k * 4 + j + 64`)}, 1.5) * ${tailSyllables.length})::int], '')
              from generate_series(0, 1 + floor(${draw(sql`k + 48`)} * 2)::int) as j)
          end, ' ')
          from generate_series(1, 3 + floor(${draw(0)} * 12)::int) as k)
          || case when ${draw(127)} < 0.001 then ' ' || (${rareWords}::text[])[1 + floor(${draw(126)} * ${rareWords.length})::int] else '' end,
        'seed:volume:' || w.n,
        timestamptz '2026-01-01T00:00:00Z' + w.n * interval '15 seconds'
      from wanted w cross join room
      returning 1
    ), counted as (
      select count(*)::int as k from stored
    )
    update rooms set last_seq = last_seq + counted.k, last_change_seq = last_change_seq + counted.k
    from counted where rooms.id = ${roomId}
    returning counted.k as stored`.execute(db)
  return rows[0]?.stored ?? 0
}
