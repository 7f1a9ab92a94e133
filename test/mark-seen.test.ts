import t from 'tap'
import { markSeenUpTo } from '../core/read-state.js'
import { createGroupRoom } from '../core/rooms.js'
import { insertUser } from '../core/users.js'
import { createDb } from '../core/db/connect.js'
import { testConfig } from '../harness/test-config.js'
import { readWatermark } from './messaging-helper.js'

const config = await testConfig(t)
const db = createDb(config.DATABASE_URL, { max: 16 })
t.teardown(() => db.destroy())

t.test('acknowledgements of one user running at once never deadlock, and the highest wins', async (t) => {
  const user = await insertUser(db, { username: 'many_clients', password_hash: 'unused', display_name: 'Many Clients' })
  if (user === undefined) throw new Error('user')
  const rooms: number[] = []
  for (let i = 0; i < 20; i++) rooms.push(await createGroupRoom(db, { name: `room ${i}`, creatorId: user.id, memberIds: [] }))
  await db.updateTable('rooms').set({ last_seq: 1000 }).execute()

  // Sixteen at once, half of them naming the rooms in the opposite order: the classic lock-order deadlock.
  const failures: string[] = []
  for (let round = 0; round < 10; round++) {
    await Promise.all(Array.from({ length: 16 }, async (_, j) => {
      const order = j % 2 === 0 ? rooms : [...rooms].reverse()
      await markSeenUpTo(db, user.id, new Map(order.map((roomId) => [roomId, round * 16 + j])))
        .catch((error: Error) => { failures.push(error.message) })
    }))
  }
  t.same(failures, [], 'no acknowledgement failed')
  const watermarks = await Promise.all(rooms.map((roomId) => readWatermark(db, roomId, user.id)))
  t.same([...new Set(watermarks)], [9 * 16 + 15], 'every room ends at the highest acknowledged seq')
})

t.test('a watermark never moves back and never passes the room\'s last message', async (t) => {
  const user = await insertUser(db, { username: 'one_client', password_hash: 'unused', display_name: 'One Client' })
  if (user === undefined) throw new Error('user')
  const roomId = await createGroupRoom(db, { name: 'short', creatorId: user.id, memberIds: [] })
  await db.updateTable('rooms').set({ last_seq: 5 }).where('id', '=', roomId).execute()
  t.same(await markSeenUpTo(db, user.id, new Map([[roomId, 3]])), new Map([[roomId, 3]]))
  t.same(await markSeenUpTo(db, user.id, new Map([[roomId, 1]])), new Map([[roomId, 3]]), 'not back')
  t.same(await markSeenUpTo(db, user.id, new Map([[roomId, 99]])), new Map([[roomId, 5]]), 'clamped to the last seq')
  t.same(await markSeenUpTo(db, user.id, new Map([[roomId + 1000, 1]])), new Map(), 'a room the user is not in is ignored')
})
