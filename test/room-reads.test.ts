import { randomUUID } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { createDb, type Db } from '../core/db/connect.js'
import { markSeenUpTo } from '../core/read-state.js'
import { createGroupRoom } from '../core/rooms.js'
import { insertUser } from '../core/users.js'
import { readRoom, readUnseenPage, roomPageFor, roomReadFrom, type KnownFeed, type UnseenPage } from '../core/unseen-feed.js'
import { testConfig } from '../harness/test-config.js'

/**
 * A room read shared by many readers must give each of them exactly the page its own whole-feed query would: the
 * same messages, the same changes, the same position after. Random rooms, messages, edits, deletes and watermarks, on
 * the real database; after each reader's whole-feed read, news lands in one room, and both ways read it.
 */

const config = await testConfig(t)
const db = createDb(config.DATABASE_URL, { max: 4 })
t.teardown(() => db.destroy())

// A seeded generator: a failure names its seed, and the same seed runs the same case again.
function random (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

async function send (db: Db, roomId: number, senderId: number): Promise<void> {
  await sql`
    with room as (update rooms set last_seq = last_seq + 1, last_change_seq = last_change_seq + 1 where id = ${roomId} returning last_seq, last_change_seq)
    insert into messages (room_id, seq, change_seq, sender_id, text, task_id)
    select ${roomId}, last_seq, last_change_seq, ${senderId}, ${`text ${randomUUID()}`}, ${randomUUID()} from room`.execute(db)
}

async function change (db: Db, roomId: number, seq: number, remove: boolean): Promise<void> {
  await sql`
    with room as (update rooms set last_change_seq = last_change_seq + 1 where id = ${roomId} returning last_change_seq)
    update messages set change_seq = room.last_change_seq,
      text = ${remove ? null : `edited ${randomUUID()}`}, edited_at = ${remove ? null : sql`now()`}, deleted_at = ${remove ? sql`now()` : null}
    from room where room_id = ${roomId} and seq = ${seq} and deleted_at is null`.execute(db)
}

/** What a page tells, without the parts a room read leaves as they were (the other rooms' watermarks). */
function told (page: UnseenPage) {
  return {
    items: page.items.map((message) => [message.id, message.text]),
    changes: page.changes.map((message) => [message.id, message.change_seq, message.text]),
    changesUpTo: [...page.changesUpTo].sort(([a], [b]) => a - b),
    seenUpTo: [...page.readFrom.seenUpTo].sort(([a], [b]) => a - b),
    changesAfter: [...page.readFrom.changesAfter].sort(([a], [b]) => a - b)
  }
}

t.test('a shared room read gives each reader the page its own query would', async (t) => {
  const users = []
  for (let i = 0; i < 6; i++) {
    const user = await insertUser(db, { username: `reader_${i}`, password_hash: 'unused', display_name: `Reader ${i}` })
    if (user === undefined) throw new Error('user')
    users.push(user.id)
  }
  const rooms = [
    await createGroupRoom(db, { name: 'all', creatorId: users[0] as number, memberIds: users }),
    await createGroupRoom(db, { name: 'some', creatorId: users[1] as number, memberIds: users.slice(0, 4) }),
    await createGroupRoom(db, { name: 'few', creatorId: users[2] as number, memberIds: users.slice(2, 5) })
  ]
  const membersOf = async (roomId: number) => (await db.selectFrom('room_members').select('user_id').where('room_id', '=', roomId).execute()).map((row) => row.user_id)
  const limit = 5
  let compared = 0
  let cases = 0

  for (let seed = 1; seed <= 40; seed++) {
    const next = random(seed)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
    // History before the readers read: sends, edits, deletes, watermarks.
    for (let i = 0; i < 8; i++) {
      const roomId = pick(rooms)
      await send(db, roomId, pick(await membersOf(roomId)))
    }
    // Each reader starts somewhere (a cursor's claims, or none) and reads its whole feed page after page until it has
    // everything, as a waiting reader has: then it knows its feed.
    const known = new Map<number, KnownFeed>()
    for (const userId of users) {
      let seenUpTo = new Map<number, number>()
      for (const roomId of rooms) if (next() < 0.7) seenUpTo.set(roomId, Math.floor(next() * 20))
      let changesAfter = new Map<number, number>()
      for (const roomId of rooms) if (next() < 0.8) changesAfter.set(roomId, Math.floor(next() * 20))
      for (;;) {
        const page = await readUnseenPage(db, userId, { seenUpTo, changesAfter }, limit)
        if (page.items.length === 0 && page.changes.length === 0) {
          known.set(userId, { seenUpTo: page.readFrom.seenUpTo, changesAfter: page.changesUpTo, watermarks: page.watermarks })
          break
        }
        seenUpTo = new Map(page.readFrom.seenUpTo)
        for (const message of page.items) seenUpTo.set(message.room_id, Math.max(seenUpTo.get(message.room_id) ?? 0, message.seq))
        changesAfter = page.changesUpTo
      }
    }
    // News in one room: sends, edits and deletes of any message, a watermark moved, someone leaves.
    const roomId = pick(rooms)
    const members = await membersOf(roomId)
    for (let i = 0, n = Math.floor(next() * 8); i < n; i++) {
      const roll = next()
      const { last_seq: lastSeq } = await db.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow()
      if (roll < 0.55 || lastSeq === 0) await send(db, roomId, pick(members))
      else if (roll < 0.8) await change(db, roomId, 1 + Math.floor(next() * lastSeq), false)
      else if (roll < 0.92) await change(db, roomId, 1 + Math.floor(next() * lastSeq), true)
      else await markSeenUpTo(db, pick(members), new Map([[roomId, 1 + Math.floor(next() * lastSeq)]]))
    }
    if (next() < 0.1 && members.length > 2) {
      await db.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', members.at(-1) as number).execute()
    }

    // One read for every reader, from the lowest of their positions, as room-reads.ts asks it.
    const readers = users.filter((userId) => known.get(userId)?.watermarks.has(roomId))
    const froms = readers.map((userId) => roomReadFrom(known.get(userId) as KnownFeed, roomId))
    const changes = froms.flatMap((from) => from.change === undefined ? [] : [from.change])
    const shared = await readRoom(db, roomId, {
      fromSeq: Math.min(...froms.map((from) => from.seq)),
      fromChange: changes.length === 0 ? undefined : Math.min(...changes),
      userIds: readers,
      limit
    })
    if (shared === undefined) throw new Error('the room is there')
    for (const userId of readers) {
      cases++
      const feed = known.get(userId) as KnownFeed
      const fromRoom = roomPageFor(shared, userId, feed, limit)
      if (fromRoom === undefined) continue
      const own = await readUnseenPage(db, userId, { seenUpTo: feed.seenUpTo, changesAfter: feed.changesAfter }, limit)
      compared++
      t.same(told(fromRoom), told(own), `seed ${seed}, room ${roomId}, reader ${userId}`)
      t.equal(fromRoom.watermarks.get(roomId), own.watermarks.get(roomId), `seed ${seed}: the room's watermark`)
    }
  }
  // Most cases must be answered by the shared read: one that always gave up would compare nothing.
  t.ok(compared > cases * 0.6, `the room read answered ${compared} of ${cases} readers (the rest left, or needed more than it read)`)
})

t.test('a reader who left the room, or needs more than the read holds, is not answered from it', async (t) => {
  const [a, b] = [await insertUser(db, { username: 'leaver', password_hash: 'x', display_name: 'L' }), await insertUser(db, { username: 'stayer', password_hash: 'x', display_name: 'S' })]
  if (a === undefined || b === undefined) throw new Error('users')
  const roomId = await createGroupRoom(db, { name: 'left', creatorId: b.id, memberIds: [a.id] })
  const known: KnownFeed = { seenUpTo: new Map(), changesAfter: new Map([[roomId, 0]]), watermarks: new Map([[roomId, 0]]) }
  for (let i = 0; i < 4; i++) await send(db, roomId, b.id)
  await db.deleteFrom('room_members').where('room_id', '=', roomId).where('user_id', '=', a.id).execute()
  const read = await readRoom(db, roomId, { fromSeq: 0, fromChange: 0, userIds: [a.id, b.id], limit: 2 })
  if (read === undefined) throw new Error('the room is there')
  t.equal(roomPageFor(read, a.id, known, 2), undefined, 'left: the reader reads its whole feed instead')
  t.equal(read.items.length, 3, 'the read holds one more than its limit, so it can tell it was cut')
  const cut = { ...read, members: new Map([[a.id, 0]]) }
  t.equal(roomPageFor(cut, a.id, known, 2)?.items.length, 2, 'a full page of what it holds is an answer')
  t.equal(roomPageFor({ ...cut, items: cut.items.filter((message) => message.seq !== 1) }, a.id, known, 3), undefined, 'asking more than it read is not')
})
