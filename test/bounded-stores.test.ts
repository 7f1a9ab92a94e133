import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testDb, testWorkers, type TestUser } from './helper.js'
import { changeAndApply, createGroupRoom, eventually, sendAllAndStore, sendAndStore } from './messaging-helper.js'

// Moves younger than two minutes are kept one by one; older ones merged per two minutes; past twenty, into one.
const exactSeconds = 120
const keepSeconds = 1200
const config = await testConfig(t, { READ_MARKS_EXACT_SECONDS: String(exactSeconds), READ_MARKS_KEEP_SECONDS: String(keepSeconds) })
const app = await testApp(t, config)
const db = testDb(t, config)
testWorkers(t, config)
const [ann, bob] = await Promise.all([createUser(app, 'ann'), createUser(app, 'bob')]) as [TestUser, TestUser]
const room = await createGroupRoom(app, ann, 'bounded', [bob])

t.test('old read watermark moves are merged, and seenBy answers within the span it promises', async (t) => {
  const sent = await sendAllAndStore(app, ann, room.id, Array.from({ length: 30 }, (_, i) => `message ${i + 1}`))
  // Bob's history of moves, one per message, written as if made over the last half hour:
  // 1–10 older than keepSeconds, 11–20 between the two (several spans of exactSeconds), 21–30 in the last half minute.
  const base = Date.now()
  const readAt = (seq: number): number => seq <= 10
    ? base - 2000_000 + seq * 10_000
    : seq <= 20 ? base - 1000_000 + (seq - 11) * 60_000 : base - 30_000 + (seq - 21) * 1000
  await db.updateTable('room_members').set({ last_read_seq: 30 }).where('room_id', '=', room.id).where('user_id', '=', bob.id).execute()
  await db.deleteFrom('read_marks').where('user_id', '=', bob.id).execute()
  await db.insertInto('read_marks')
    .values(sent.map((message) => ({ room_id: room.id, user_id: bob.id, up_to_seq: message.seq, read_at: new Date(readAt(message.seq)) })))
    .execute()

  const span = (ms: number) => Math.floor(ms / 1000 / exactSeconds)
  const middle = sent.filter((message) => message.seq > 10 && message.seq <= 20)
  const expectedSeenAt = (seq: number): number => {
    if (seq <= 10) return readAt(10)
    if (seq > 20) return readAt(seq)
    return Math.max(...middle.filter((m) => span(readAt(m.seq)) === span(readAt(seq))).map((m) => readAt(m.seq)))
  }
  const expectedRows = 1 + new Set(middle.map((m) => span(readAt(m.seq)))).size + 10
  t.ok(expectedRows < 30, 'the merge has something to do')

  const rows = async () => await db.selectFrom('read_marks').select(['up_to_seq', 'read_at']).where('user_id', '=', bob.id).execute()
  // The worker's repeated job does it (every 30 s with these settings).
  await eventually(async () => (await rows()).length, (n) => n === expectedRows, 90_000)

  for (const message of sent) {
    const detail = (await app.inject({ url: `/v1/messages/${message.id}`, headers: ann.auth })).json()
    t.same(detail.seenBy, [{ userId: bob.id, seenAt: new Date(expectedSeenAt(message.seq)).toISOString() }], `seq ${message.seq}`)
    t.ok(Date.parse(detail.seenBy[0].seenAt) >= readAt(message.seq), `seq ${message.seq}: never earlier than it was seen`)
  }
})

t.test('a deleted message\'s texts leave Redis when it is deleted', async (t) => {
  const redis = new Redis(config.REDIS_URL)
  t.teardown(() => redis.disconnect())
  /** Every value under this deployment's queues, whatever its type, as one string to search. */
  const everythingQueued = async (): Promise<string> => {
    const parts: string[] = []
    for await (const keys of redis.scanStream({ match: `{${config.REDIS_PREFIX}:*`, count: 500 })) {
      for (const key of keys as string[]) {
        const type = await redis.type(key)
        if (type === 'string') parts.push(await redis.get(key) ?? '')
        else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)))
        else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)))
        else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)))
        else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)))
        else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')))
      }
    }
    return parts.join('\n')
  }

  const original = `secret ${randomBytes(8).toString('hex')}`
  const edited = `edited secret ${randomBytes(8).toString('hex')}`
  const message = await sendAndStore(app, ann, room.id, original)
  t.match(await changeAndApply(app, ann, message.id, edited), { state: 'completed' })
  const before = await everythingQueued()
  t.ok(before.includes(original) && before.includes(edited), 'the finished jobs hold both texts (so the search can find them)')

  t.match(await changeAndApply(app, ann, message.id, null), { state: 'completed' })
  const after = await eventually(everythingQueued, (all) => !all.includes(original) && !all.includes(edited), 10_000)
  t.notOk(after.includes(original), 'the sent text is gone')
  t.notOk(after.includes(edited), 'the edited text is gone')
  const kept = await sendAndStore(app, ann, room.id, `still here ${randomBytes(8).toString('hex')}`)
  t.ok((await everythingQueued()).includes(kept.text as string), 'other messages\' jobs are kept as BullMQ\'s retention says')
})
