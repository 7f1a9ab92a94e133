import { sql } from 'kysely'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { seedDemo } from '../seeds/seed-demo.js'
import { seedVolume, volumeRoomCount, volumeRoomName } from '../seeds/seed-volume.js'
import { testDb } from './helper.js'

const config = await testConfig(t)
const db = testDb(t, config)
await seedDemo(db)
const quiet = { start: () => {}, advance: () => {}, stop: () => {} }

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
})

t.test('the search index is left as the migration made it, and finds the seeded words', async (t) => {
  const { rows: [index] } = await sql<{ options: string[] | null }>`
    select c.reloptions as options from pg_class c where c.relname = 'messages_search_idx'`.execute(db)
  t.same(index?.options, ['fastupdate=off'])
  const { rows: [found] } = await sql<{ n: number }>`
    select count(*)::int as n from messages where search_vector @@ websearch_to_tsquery('pigeon_search', 'deploy')`.execute(db)
  t.ok((found?.n ?? 0) > 100, `deploy is common: ${found?.n}`)
})
