import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { createChannels } from '../api/channels.js'
import { createFeedWatches } from '../api/feed-watches.js'
import { createPatientRedis } from '../core/redis.js'
import { testConfig } from '../harness/test-config.js'

const config = await testConfig(t)
const subscriber = createPatientRedis(config, 'feed-watches-test')
t.teardown(() => subscriber.disconnect())
const channels = createChannels(subscriber, (error) => { throw error })
const signal = new AbortController().signal

function hub (options: { pollsPerUser?: number, lingerMs?: number } = {}) {
  return createFeedWatches({
    channels,
    roomChannel: (roomId) => `${config.REDIS_PREFIX}:room:${roomId}`,
    userChannel: (userId) => `${config.REDIS_PREFIX}:user:${userId}`,
    pollsPerUser: options.pollsPerUser ?? 10,
    lingerMs: options.lingerMs ?? 60_000
  })
}

async function until (check: () => boolean): Promise<void> {
  while (!check()) await sleep(10)
}

t.test('a room\'s wake-up reaches the watches of users whose reads found the room, and waits in them until taken', async (t) => {
  const watches = hub()
  const ann = watches.watch(1, 'push')
  const bob = watches.watch(2, 'poll')
  await Promise.all([ann.ready(), bob.ready()])
  await ann.cover([10, 11], ann.take().mark)
  await bob.cover([11], bob.take().mark)

  t.equal(watches.wakeRoom(10), 1, 'room 10: ann only')
  t.equal(watches.wakeRoom(11), 2, 'room 11: both')
  t.equal(await ann.wait(60_000, signal), 'woken', 'a wake-up before the wait is kept: the wait answers at once')
  t.same([...ann.take().rooms].sort(), [10, 11], 'the rooms it names, each once')
  t.equal(await ann.wait(5, signal), 'timeout', 'taken: nothing pending any more')
  t.equal(watches.wakeUser(2), 1, 'a user\'s wake-up reaches that user\'s watches')
  t.match(bob.take(), { full: true }, 'and asks for a whole read')
  ann.close()
  bob.close()
})

t.test('a room found by a read is missed unless its channel was subscribed before the read began', async (t) => {
  const watches = hub()
  const ann = watches.watch(3, 'push')
  await ann.ready()
  const first = ann.take().mark
  t.equal(await ann.cover([20], first), true, 'a room new to the watch: read again')
  const second = ann.take().mark
  t.equal(await ann.cover([20], second), false, 'subscribed before this read: nothing missed')
  const third = ann.take().mark
  t.equal(await ann.cover([20, 21], third), true, 'a room joined since: read again')
  t.equal(await ann.cover([21], ann.take().mark), false, 'a room left is let go, and costs no read')
  t.equal(watches.wakeRoom(20), 0, 'the room left no longer wakes the watch')

  // Another reader of the same user here shares what the first found.
  const again = watches.watch(3, 'poll')
  await again.ready()
  t.equal(await again.cover([21], again.take().mark), false, 'a second reader of the user finds the room subscribed')
  ann.close()
  again.close()
})

t.test('one long poll beyond the bound answers the oldest live one, and push readers are not counted', async (t) => {
  const watches = hub({ pollsPerUser: 2 })
  const push = watches.watch(4, 'push')
  const [first, second] = [watches.watch(4, 'poll'), watches.watch(4, 'poll')]
  const third = watches.watch(4, 'poll')
  t.equal(await first.wait(60_000, signal), 'superseded', 'the oldest answers')
  // The first has not been closed yet (its reader is still answering): the next one beyond pushes out the second.
  watches.watch(4, 'poll')
  t.equal(await second.wait(60_000, signal), 'superseded', 'an ended one still open is not counted again')
  t.equal(await third.wait(5, signal), 'timeout', 'the newer ones stay')
  t.equal(await push.wait(5, signal), 'timeout', 'a push reader is not a long poll')
  watches.endAll()
  t.equal(await push.wait(60_000, signal), 'closing', 'a shutdown answers every reader')
})

t.test('a user\'s channels go a while after the last reader or hold does, and stay if one comes back', async (t) => {
  const watches = hub({ lingerMs: 50 })
  const before = channels.size
  const ann = watches.watch(5, 'push')
  await ann.ready()
  await ann.cover([30, 31], ann.take().mark)
  t.equal(channels.size, before + 3, 'the user\'s channel and two rooms\'')
  ann.close()
  const back = watches.holdUser(5)
  await sleep(100)
  t.equal(channels.size, before + 3, 'a task wait came back within the linger: all kept')
  back.release()
  await until(() => channels.size === before)
  t.pass('all let go once nobody held the user for the linger')
})

t.test('a waiting reader is answered from a shared room read without waking, unless the answer ends its wait or cannot be given', async (t) => {
  const watches = hub()
  const ann = watches.watch(6, 'push')
  await ann.ready()
  await ann.cover([40, 41], ann.take().mark)
  const asked: Array<{ roomId: number, take: (read: undefined) => void }> = []
  let outcome: 'kept' | 'answered' | 'read' = 'kept'
  const answered: number[] = []
  const reader = {
    ask: (roomId: number, take: (read: undefined) => void) => { asked.push({ roomId, take }) },
    answer: () => { answered.push(asked.length); return outcome }
  }
  let settled: string | undefined
  const waiting = ann.wait(60_000, signal, reader).then((result) => { settled = result })

  t.equal(watches.wakeRoom(40), 1, 'the wake-up reaches the watch')
  t.same(asked.map((ask) => ask.roomId), [40], 'the waiting reader joins the room read instead of waking')
  watches.wakeRoom(40)
  t.equal(asked.length, 1, 'one room read at a time: another wake-up meanwhile wakes it')
  await sleep(1)
  t.equal(settled, 'woken', 'so it reads itself')
  asked[0]?.take(undefined)
  t.same(answered, [], 'a read that comes after it stopped waiting is not handed to it')
  t.same([...ann.take().rooms], [40], 'the room is pending instead, for its own read')

  settled = undefined
  const again = ann.wait(60_000, signal, reader).then((result) => { settled = result })
  watches.wakeRoom(41)
  asked[1]?.take(undefined)
  await sleep(1)
  t.same(answered, [2], 'handed the read in the pass')
  t.equal(settled, undefined, 'kept: it goes on waiting')
  outcome = 'read'
  watches.wakeRoom(41)
  asked[2]?.take(undefined)
  await sleep(1)
  t.equal(settled, 'woken', 'one it cannot take wakes it')
  t.match(ann.take(), { full: true }, 'for a read of its whole feed')

  outcome = 'answered'
  settled = undefined
  const last = ann.wait(60_000, signal, reader).then((result) => { settled = result })
  watches.wakeRoom(40)
  asked[3]?.take(undefined)
  await sleep(1)
  t.equal(settled, 'woken', 'an answer that ends the wait (a long poll) resolves it')
  t.same(ann.take().rooms.size, 0, 'with nothing pending')
  await Promise.all([waiting, again, last])
  ann.close()
})
