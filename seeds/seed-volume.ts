import { sql } from 'kysely'
import type { Db } from '../core/db/connect.js'
import { hashPassword } from '../core/password.js'
import { createGroupRoom } from '../core/rooms.js'
import { findUserByUsername } from '../core/users.js'
import { demoPassword } from './demo-data.js'
import { findSeededGroupRoom } from './seed-demo.js'
import { volumeRoomOf, volumeRoomShare, volumeSenderOf, volumeText } from './volume-message.js'

export interface VolumeProgress {
  start: (total: number) => void
  advance: (by: number) => void
  stop: () => void
  /** What the seed does now, when it is not storing messages (dropping or building indexes, analyzing). */
  step?: (what: string) => void
}

const batchSize = 1000
/** Messages per transaction of one writer: big enough that round trips do not count, small enough to show progress. */
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
 * message's room, sender and text depend on its number alone (seeds/volume-message.ts), so running it again, or with
 * larger numbers, only adds what is missing.
 *
 * Messages go in by the statement, not through the queue, 15 s apart. `writers` connections write at once (the db's
 * pool must allow that many), each the messages of its own rooms in number order, so no two wait for the same room
 * lock and a room's seqs follow its messages' numbers. That order is also what makes a rerun cheap: a room holds the
 * seed's messages 1 … k of its own for some k (each batch commits whole, in order), so a writer starts after the
 * highest number its rooms hold, without looking each message up.
 *
 * A load that at least doubles `messages` is a bulk load: the secondary indexes that cost the most to keep up row by
 * row, and the foreign keys (checked row by row), are dropped first and made again afterwards from the whole table
 * (Postgres's advice for bulk loads), exactly as the migrations made them; a run stopped in between leaves them for the
 * next run to make. A smaller load keeps them, with the search index taking new entries into its pending list (GIN
 * `fastupdate`) until it is done.
 */
export async function seedVolume (db: Db, options: { users: number, messages: number, progress: VolumeProgress, writers?: number }): Promise<{ usersCreated: number, messagesStored: number }> {
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

  // A run stopped during a bulk load left indexes to build (the lookups below need them), or the search index in
  // bulk mode.
  await restoreIndexes(db, progress)
  const storedUpTo = await highestStoredNumbers(db, roomIds)
  const adding = options.messages - Math.min(...storedUpTo)
  const bulk = adding > 0 && adding >= await rowsHeld(db) && await indexesAsMigrated(db)
  if (bulk) {
    progress.step?.(`bulk load: dropping ${[...rebuiltIndexes, ...recheckedForeignKeys].map((index) => index.name).join(', ')}`)
    await dropRebuiltIndexes(db)
  } else if (adding > 0) {
    await setSearchIndexBulk(db, true)
  }
  const plan = { roomIds, senderIds: senders, ownerId: owner.id, storedUpTo, messages: options.messages }
  const stored = await Promise.all(writersRooms(roomIds.length, options.writers ?? 2).map(async (rooms) =>
    await storeVolumeMessages(db, volumeBatches({ ...plan, rooms }), progress)))
  const messagesStored = stored.reduce((sum, n) => sum + n, 0)
  // Also after a run with no messages: it puts back what a stopped run left.
  await restoreIndexes(db, progress)
  // The planner's statistics (how common each word is, how many messages a room holds) would otherwise wait for
  // autovacuum, and search would pick its plans blind meanwhile.
  if (messagesStored > 0) {
    progress.step?.('analyzing messages')
    await sql`analyze messages`.execute(db)
  }
  progress.stop()
  return { usersCreated, messagesStored }
}

/**
 * The rooms (from 0) each writer stores: the biggest room first to the writer with the smallest share so far, so the
 * writers get about equal shares of the messages ("volume" alone is 37 % of them).
 */
function writersRooms (rooms: number, writers: number): number[][] {
  const shares = Array.from({ length: Math.max(1, writers) }, () => ({ share: 0, rooms: [] as number[] }))
  for (let r = 0; r < rooms; r++) {
    const least = shares.reduce((a, b) => (b.share < a.share ? b : a))
    least.rooms.push(r)
    least.share += volumeRoomShare(r, rooms)
  }
  return shares.map((writer) => writer.rooms).filter((list) => list.length > 0)
}

/** Per volume room, the highest message number it holds (0 for none): its newest seed message's. */
async function highestStoredNumbers (db: Db, roomIds: number[]): Promise<number[]> {
  const { rows } = await sql<{ n: number | null }>`
    select (select substr(m.task_id, 13)::bigint from messages m
        where m.room_id = v.id and m.task_id like 'seed:volume:%' order by m.seq desc limit 1) as n
    from unnest(${roomIds}::bigint[]) with ordinality as v(id, ord) order by v.ord`.execute(db)
  return rows.map((row) => row.n ?? 0)
}

/** About how many rows `messages` holds, from its first and last id (two index probes, not a count). */
async function rowsHeld (db: Db): Promise<number> {
  const { rows } = await sql<{ n: number }>`select coalesce(max(id) - min(id) + 1, 0) as n from messages`.execute(db)
  return rows[0]?.n ?? 0
}

interface VolumeBatch { numbers: number[], roomIds: number[], senderIds: number[], texts: string[], walked: number }

/**
 * A writer's messages, in batches: the numbers 1 … `messages` whose room is one of `rooms` and beyond the highest
 * that room holds, each with its room, sender and text. `walked` counts the writer's numbers a batch went past,
 * stored now or before (the last batch may hold no messages).
 */
function * volumeBatches (plan: { rooms: number[], roomIds: number[], senderIds: number[], ownerId: number, storedUpTo: number[], messages: number }): Generator<VolumeBatch> {
  const { roomIds, senderIds, storedUpTo } = plan
  const mine = roomIds.map((_, r) => plan.rooms.includes(r))
  const empty = (): VolumeBatch => ({ numbers: [], roomIds: [], senderIds: [], texts: [], walked: 0 })
  let batch = empty()
  for (let n = 1; n <= plan.messages; n++) {
    const r = volumeRoomOf(n, roomIds.length)
    if (!(mine[r] ?? false)) continue
    batch.walked++
    if (n <= (storedUpTo[r] ?? 0)) continue
    batch.numbers.push(n)
    batch.roomIds.push(roomIds[r] as number)
    batch.senderIds.push(senderIds.length === 0 ? plan.ownerId : senderIds[volumeSenderOf(n, r, senderIds.length)] as number)
    batch.texts.push(volumeText(n))
    if (batch.numbers.length === messageBatchSize) {
      yield batch
      batch = empty()
    }
  }
  if (batch.walked > 0) yield batch
}

/** Stores a writer's batches one transaction each, in order; the next batch is made while the one before is stored. */
async function storeVolumeMessages (db: Db, batches: Iterable<VolumeBatch>, progress: VolumeProgress): Promise<number> {
  let stored = 0
  let storing: Promise<number> | undefined
  for (const batch of batches) {
    if (storing !== undefined) stored += await storing
    storing = insertVolumeBatch(db, batch).then((n) => {
      progress.advance(batch.walked)
      return n
    })
  }
  if (storing !== undefined) stored += await storing
  return stored
}

/**
 * One batch in one transaction: its rooms are locked (in id order) and their seqs and change numbers taken for it, as
 * the worker does. No wait for the WAL to reach the disk at each commit: a crash loses the last batches, which the
 * next run adds again.
 */
async function insertVolumeBatch (db: Db, batch: VolumeBatch): Promise<number> {
  if (batch.numbers.length === 0) return 0
  return await db.transaction().execute(async (trx) => {
    await sql`set local synchronous_commit = off`.execute(trx)
    // Memory for merging the search index's pending list, which an insert does when the list is full (not in bulk).
    await sql`set local work_mem = '64MB'`.execute(trx)
    const { rows } = await sql<{ id: number, last_seq: number, last_change_seq: number }>`
      select id, last_seq, last_change_seq from rooms where id = any(${[...new Set(batch.roomIds)]}::bigint[])
      order by id for update`.execute(trx)
    const rooms = new Map(rows.map((row) => [row.id, row]))
    const seqs: number[] = []
    const changeSeqs: number[] = []
    for (const id of batch.roomIds) {
      const room = rooms.get(id)
      if (room === undefined) throw new Error(`volume room ${id} is gone`)
      seqs.push(++room.last_seq)
      changeSeqs.push(++room.last_change_seq)
    }
    await sql`
      insert into messages (room_id, seq, change_seq, sender_id, text, task_id, created_at)
      select v.room_id, v.seq, v.change_seq, v.sender_id, v.text, 'seed:volume:' || v.n,
        timestamptz '2026-01-01T00:00:00Z' + v.n * interval '15 seconds'
      from unnest(${arrayLiteral(batch.numbers)}::bigint[], ${arrayLiteral(batch.roomIds)}::bigint[], ${arrayLiteral(seqs)}::bigint[],
        ${arrayLiteral(changeSeqs)}::bigint[], ${arrayLiteral(batch.senderIds)}::bigint[], ${arrayLiteral(batch.texts)}::text[])
        as v(n, room_id, seq, change_seq, sender_id, text)`.execute(trx)
    await sql`
      update rooms set last_seq = v.last_seq, last_change_seq = v.last_change_seq
      from unnest(${[...rooms.keys()]}::bigint[], ${[...rooms.values()].map((room) => room.last_seq)}::bigint[],
        ${[...rooms.values()].map((room) => room.last_change_seq)}::bigint[]) as v(id, last_seq, last_change_seq)
      where rooms.id = v.id`.execute(trx)
    return batch.numbers.length
  })
}

/**
 * A Postgres array literal of numbers or texts, each text quoted (and its quotes and backslashes escaped). Made here
 * because node-postgres's own conversion of JS arrays took 3–10 µs per message of a batch (on a loaded machine), as
 * long as making the message, and it is the seed's one Node thread that feeds both writers.
 */
function arrayLiteral (values: ReadonlyArray<number | string>): string {
  if (values.every((value) => typeof value === 'number')) return `{${values.join(',')}}`
  const texts = values.map(String)
  const escaped = texts.some((text) => text.includes('"') || text.includes('\\')) ? texts.map((text) => text.replace(/["\\]/g, '\\$&')) : texts
  return `{"${escaped.join('","')}"}`
}

/**
 * The secondary indexes of `messages` that a bulk load drops and builds again, as the migrations made them (in
 * `pg_get_indexdef`'s words, the table's schema left out); `constraint` when a unique constraint owns the index.
 * The others stay: the primary key (cheap to keep, ids come in order, and `tasks` refers to it) and the index of
 * changed messages (none of the seed's are).
 */
const rebuiltIndexes = [
  { name: 'messages_search_idx', constraint: false, definition: 'CREATE INDEX messages_search_idx ON messages USING gin (search_vector) WITH (fastupdate=off)' },
  { name: 'messages_room_seq_key', constraint: true, definition: 'CREATE UNIQUE INDEX messages_room_seq_key ON messages USING btree (room_id, seq)' },
  { name: 'messages_task_id_key', constraint: true, definition: 'CREATE UNIQUE INDEX messages_task_id_key ON messages USING btree (task_id)' }
] as const

/**
 * The foreign keys a bulk load drops and adds back afterwards (one scan of the table each to check them, instead of
 * a lookup per message: 16 µs of the 30 it still cost), as the migrations made them (`pg_get_constraintdef`'s words).
 */
const recheckedForeignKeys = [
  { name: 'messages_room_id_fkey', definition: 'FOREIGN KEY (room_id) REFERENCES rooms(id) ON DELETE CASCADE' },
  { name: 'messages_sender_id_fkey', definition: 'FOREIGN KEY (sender_id) REFERENCES users(id) ON DELETE SET NULL' }
] as const

/** The foreign keys of `messages` by name, with their definitions. */
async function messagesForeignKeys (db: Db): Promise<Map<string, string>> {
  const { rows } = await sql<{ name: string, definition: string }>`
    select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
    where conrelid = 'messages'::regclass and contype = 'f'`.execute(db)
  return new Map(rows.map((row) => [row.name, row.definition]))
}

/** The indexes of `messages` by name: their definitions (schema left out) and whether a constraint owns each. */
async function messagesIndexes (db: Db): Promise<Map<string, { definition: string, constraint: boolean }>> {
  const { rows } = await sql<{ name: string, definition: string, constraint: boolean }>`
    select c.relname as name, regexp_replace(pg_get_indexdef(c.oid), ' ON \\S+ USING ', ' ON messages USING ') as definition,
      exists (select 1 from pg_constraint k where k.conindid = c.oid and k.conrelid = i.indrelid) as constraint
    from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid = 'messages'::regclass`.execute(db)
  return new Map(rows.map((row) => [row.name, { definition: row.definition, constraint: row.constraint }]))
}

/**
 * True when every index and foreign key a bulk load would drop is as the migrations made it (so it can be made again
 * the same).
 */
async function indexesAsMigrated (db: Db): Promise<boolean> {
  const indexes = await messagesIndexes(db)
  const foreignKeys = await messagesForeignKeys(db)
  return rebuiltIndexes.every((index) => indexes.get(index.name)?.definition === index.definition &&
    indexes.get(index.name)?.constraint === index.constraint) &&
    recheckedForeignKeys.every((key) => foreignKeys.get(key.name) === key.definition)
}

async function dropRebuiltIndexes (db: Db): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const index of rebuiltIndexes) {
      if (index.constraint) await sql`alter table messages drop constraint ${sql.id(index.name)}`.execute(trx)
      else await sql`drop index ${sql.id(index.name)}`.execute(trx)
    }
    for (const key of recheckedForeignKeys) await sql`alter table messages drop constraint ${sql.id(key.name)}`.execute(trx)
  })
}

/**
 * Puts the indexes and foreign keys back as the migrations made them: builds the indexes a bulk load dropped, two at a
 * time, each with 1 GB to sort in, gives the unique ones back to their constraints, then adds the foreign keys back;
 * and takes the search index out of bulk mode.
 */
async function restoreIndexes (db: Db, progress: VolumeProgress): Promise<void> {
  await setSearchIndexBulk(db, false)
  const indexes = await messagesIndexes(db)
  const missing = rebuiltIndexes.filter((index) => !indexes.has(index.name))
  if (missing.length > 0) progress.step?.(`building ${missing.map((index) => index.name).join(', ')}`)
  // Two lanes, one per connection: the first index (the GIN one, the slowest) alone, the others one after another.
  const lanes = [missing.slice(0, 1), missing.slice(1)].filter((lane) => lane.length > 0)
  await Promise.all(lanes.map(async (lane) => {
    for (const index of lane) {
      await db.transaction().execute(async (trx) => {
        await sql`set local maintenance_work_mem = '1GB'`.execute(trx)
        // The builds run side by side, one per core: a build's own parallel workers would only take a core from the other.
        await sql`set local max_parallel_maintenance_workers = 0`.execute(trx)
        await sql.raw(index.definition).execute(trx)
      })
      progress.step?.(`built ${index.name}`)
    }
  }))
  for (const index of rebuiltIndexes) {
    if (index.constraint && indexes.get(index.name)?.constraint !== true) {
      await sql`alter table messages add constraint ${sql.id(index.name)} unique using index ${sql.id(index.name)}`.execute(db)
    }
  }
  // Checked by one scan each; not beside the builds above, whose locks exclude it.
  const foreignKeys = await messagesForeignKeys(db)
  const unchecked = recheckedForeignKeys.filter((key) => !foreignKeys.has(key.name))
  if (unchecked.length > 0) progress.step?.(`adding back ${unchecked.map((key) => key.name).join(', ')}`)
  for (const key of unchecked) {
    await sql`alter table messages add constraint ${sql.id(key.name)} ${sql.raw(key.definition)}`.execute(db)
    progress.step?.(`checked ${key.name}`)
  }
}

/**
 * Bulk mode for the search index, on or off. On: new entries go to the index's pending list (up to 64 MB) and are
 * merged into it a list at a time. Off, as the migration made it: the pending list is merged first, then each insert
 * updates the index at once again. Nothing to do when the index is not there (a bulk load dropped it).
 */
async function setSearchIndexBulk (db: Db, bulk: boolean): Promise<void> {
  const { rows } = await sql<{ present: boolean }>`select to_regclass('messages_search_idx') is not null as present`.execute(db)
  if (rows[0]?.present !== true) return
  if (bulk) {
    await sql`alter index messages_search_idx set (fastupdate = on, gin_pending_list_limit = 65536)`.execute(db)
  } else {
    await sql`select gin_clean_pending_list('messages_search_idx')`.execute(db)
    await sql`alter index messages_search_idx set (fastupdate = off)`.execute(db)
    await sql`alter index messages_search_idx reset (gin_pending_list_limit)`.execute(db)
  }
}
