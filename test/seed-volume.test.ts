import { sql } from 'kysely'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { seedDemo } from '../seeds/seed-demo.js'
import type { Db } from '../core/db/connect.js'
import { seedVolume, volumeRoomCount, volumeRoomName } from '../seeds/seed-volume.js'
import { draw } from '../seeds/volume-message.js'
import { testDb } from './helper.js'

const config = await testConfig(t)
const db = testDb(t, config)
await seedDemo(db)
const quiet = { start: () => {}, advance: () => {}, stop: () => {} }

/** The indexes and constraints of `messages`, as Postgres states them. */
async function messagesSchema (db: Db) {
  const { rows } = await sql<{ kind: string, name: string, definition: string }>`
    select 'index' as kind, c.relname as name, pg_get_indexdef(c.oid) as definition
    from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'messages'::regclass
    union all
    select 'constraint', conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'messages'::regclass
    order by 1, 2`.execute(db)
  return rows
}
const migrated = await messagesSchema(db)

/** Every volume message as a reader sees it: number, room, seq, sender, text, time. */
async function volumeMessages (db: Db) {
  const { rows } = await sql<{ task_id: string, room: string, seq: number, sender: string, text: string, created_at: Date }>`
    select m.task_id, r.name as room, m.seq, u.username as sender, m.text, m.created_at
    from messages m join rooms r on r.id = m.room_id join users u on u.id = m.sender_id
    where m.task_id like 'seed:volume:%' order by substr(m.task_id, 13)::bigint`.execute(db)
  return rows
}

/** Per volume room: its name, its last seq and change number, and what its messages and members are. */
async function volumeRooms () {
  const { rows } = await sql<{ name: string, last_seq: number, last_change_seq: number, messages: number, max_seq: number | null, gapless: boolean, from_members: boolean, members: number, has_user_1: boolean }>`
    select r.name, r.last_seq, r.last_change_seq,
      (select count(*)::int from messages m where m.room_id = r.id) as messages,
      (select max(seq) from messages m where m.room_id = r.id) as max_seq,
      (select coalesce(bool_and(m.seq = m.change_seq), true) and count(*) = count(distinct m.seq) from messages m where m.room_id = r.id) as gapless,
      (select coalesce(bool_and(exists (select 1 from room_members rm where rm.room_id = r.id and rm.user_id = m.sender_id)), true)
        from messages m where m.room_id = r.id) as from_members,
      (select count(*)::int from room_members rm where rm.room_id = r.id) as members,
      exists (select 1 from room_members rm join users u on u.id = rm.user_id where rm.room_id = r.id and u.username = 'user_1') as has_user_1
    from rooms r where r.name like 'volume%' order by r.id`.execute(db)
  return rows
}

t.test('messages spread over rooms of different sizes, each room gapless and sent by its members', async (t) => {
  const first = await seedVolume(db, { users: 40, messages: 6000, progress: quiet })
  t.same(first, { usersCreated: 40, messagesStored: 6000 })
  const rooms = await volumeRooms()
  t.same(rooms.map((room) => room.name), Array.from({ length: volumeRoomCount }, (_, r) => volumeRoomName(r)))
  t.equal(rooms.reduce((sum, room) => sum + room.messages, 0), 6000)
  for (const room of rooms) {
    t.ok(room.has_user_1, `user_1 is in ${room.name}`)
    t.equal(room.max_seq, room.last_seq, `${room.name}: its last seq is its newest message's`)
    t.equal(room.last_change_seq, room.last_seq, `${room.name}: one change per message`)
    t.equal(room.messages, room.last_seq, `${room.name}: seqs 1 … last, none twice`)
    t.ok(room.gapless, `${room.name}: change numbers follow seqs`)
    t.ok(room.from_members, `${room.name}: every sender is a member`)
  }
  const [biggest, ...rest] = rooms
  t.ok(rest.every((room) => room.messages < (biggest?.messages ?? 0)), '"volume" is the biggest')
  t.ok((rooms.at(-1)?.messages ?? 0) * 10 < (biggest?.messages ?? 0), 'the smallest holds less than a tenth of it')
  t.equal(biggest?.members, 41, 'every volume user and user_1 in "volume"')
  t.equal(rooms.at(-1)?.members, 3, 'a twentieth of them in "volume 20" (volume users 1 and 21), with user_1')
  t.same(await messagesSchema(db), migrated, 'the indexes it dropped for the bulk load are back as the migrations made them')
})

t.test('a rerun adds nothing; more messages come after the ones there, in the same rooms', async (t) => {
  const before = await volumeRooms()
  t.same(await seedVolume(db, { users: 40, messages: 6000, progress: quiet }), { usersCreated: 0, messagesStored: 0 })
  t.same(await volumeRooms(), before)
  t.same(await seedVolume(db, { users: 40, messages: 9000, progress: quiet }), { usersCreated: 0, messagesStored: 3000 })
  const after = await volumeRooms()
  t.equal(after.reduce((sum, room) => sum + room.messages, 0), 9000)
  for (const room of after) {
    t.equal(room.messages, room.last_seq, `${room.name}: still seqs 1 … last`)
    t.ok(room.gapless, `${room.name}: still gapless`)
  }
  t.same(await messagesSchema(db), migrated, 'the indexes are as the migrations made them')
})

t.test('the same numbers give the same messages, in one run or several, with one writer or two', async (t) => {
  const other = testDb(t, await testConfig(t))
  await seedDemo(other)
  t.same(await seedVolume(other, { users: 40, messages: 9000, progress: quiet, writers: 1 }), { usersCreated: 40, messagesStored: 9000 })
  t.same(await volumeMessages(other), await volumeMessages(db))
})

t.test('a run stopped during a bulk load leaves the indexes for the next run to build', async (t) => {
  // What a run stopped mid-load leaves: two of the indexes it drops gone, one built but not yet its constraint's, a
  // foreign key not yet added back.
  await sql`drop index messages_search_idx`.execute(db)
  await sql`alter table messages drop constraint messages_room_seq_key`.execute(db)
  await sql`alter table messages drop constraint messages_task_id_key`.execute(db)
  await sql`create unique index messages_task_id_key on messages (task_id)`.execute(db)
  await sql`alter table messages drop constraint messages_sender_id_fkey`.execute(db)
  t.same(await seedVolume(db, { users: 40, messages: 9000, progress: quiet }), { usersCreated: 0, messagesStored: 0 })
  t.same(await messagesSchema(db), migrated)
})

t.test('message texts are drawn as Postgres draws them (hashint8), so databases seeded in SQL grow with the same data', async (t) => {
  const pairs = [1, 2, 999, 6000, 123_456, 9_999_999, 16_777_216, 33_554_431, 100_000_000].flatMap((n) => [0, 1, 17, 64, 124, 125, 127].map((k) => [n, k] as const))
  const { rows } = await sql<{ u: number }>`
    select (hashint8(v.n * 128 + v.k) & 2147483647)::float8 / 2147483648 as u
    from unnest(${pairs.map(([n]) => n)}::bigint[], ${pairs.map(([, k]) => k)}::bigint[]) with ordinality as v(n, k, ord)
    order by v.ord`.execute(db)
  t.same(pairs.map(([n, k]) => draw(n, k)), rows.map((row) => row.u))
})

t.test('the search index is left as the migration made it, and finds the seeded words', async (t) => {
  const { rows: [index] } = await sql<{ options: string[] | null }>`
    select c.reloptions as options from pg_class c where c.relname = 'messages_search_idx'`.execute(db)
  t.same(index?.options, ['fastupdate=off'])
  const { rows: [found] } = await sql<{ n: number }>`
    select count(*)::int as n from messages where search_vector @@ websearch_to_tsquery('pigeon_search', 'deploy')`.execute(db)
  t.ok((found?.n ?? 0) > 100, `deploy is common: ${found?.n}`)
})
