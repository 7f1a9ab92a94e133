import t from 'tap'
import { longPoll } from '../api/long-poll.js'
import { createWaiters } from '../api/waiters.js'

const never = new AbortController().signal

t.test('a wake-up that lands between register and wait is kept: wait resolves at once', async (t) => {
  const waiters = createWaiters<number>()
  const waiter = waiters.register(1)
  t.equal(waiters.wake(1), 1, 'the registered waiter counts as woken')
  t.equal(await waiter.wait(5000, never), 'woken', 'woken, not timed out')
  waiter.cancel()
  t.equal(waiters.size, 0)
})

t.test('a wake-up while waiting resolves the waiter and forgets it', async (t) => {
  const waiters = createWaiters<number>()
  const waiter = waiters.register(7)
  t.equal(waiters.size, 1)
  const outcome = waiter.wait(5000, never)
  setTimeout(() => waiters.wake(7), 20)
  t.equal(await outcome, 'woken')
  t.equal(waiters.size, 0)
  t.equal(waiters.wake(7), 0, 'a second wake-up finds nobody: each wake resolves a waiter once')
})

t.test('a wake-up resolves only the waiters of its key, every one of them', async (t) => {
  const waiters = createWaiters<string>()
  const a1 = waiters.register('a')
  const a2 = waiters.register('a')
  const b = waiters.register('b')
  t.equal(waiters.size, 3)
  const outcomes = Promise.all([a1.wait(5000, never), a2.wait(5000, never)])
  t.equal(waiters.wake('a'), 2)
  t.same(await outcomes, ['woken', 'woken'])
  t.equal(waiters.size, 1, 'b still waits')
  t.equal(waiters.wake('nobody'), 0)
  t.equal(await b.wait(30, never), 'timeout', 'b is not woken by a wake-up of another key')
  t.equal(waiters.size, 0)
})

t.test('the time running out resolves timeout and forgets the waiter', async (t) => {
  const waiters = createWaiters<number>()
  const waiter = waiters.register(1)
  t.equal(await waiter.wait(50, never), 'timeout')
  t.equal(waiters.size, 0)
  t.equal(waiters.wake(1), 0)
})

t.test('a client hanging up resolves aborted, before or during the wait', async (t) => {
  const waiters = createWaiters<number>()
  const during = new AbortController()
  const waiting = waiters.register(1).wait(5000, during.signal)
  setTimeout(() => during.abort(), 20)
  t.equal(await waiting, 'aborted')

  const before = new AbortController()
  before.abort()
  t.equal(await waiters.register(1).wait(5000, before.signal), 'aborted')
  t.equal(waiters.size, 0)
})

t.test('cancel forgets the waiter and is idempotent', async (t) => {
  const waiters = createWaiters<number>()
  const waiter = waiters.register(1)
  const other = waiters.register(1)
  waiter.cancel()
  waiter.cancel()
  t.equal(waiters.size, 1, 'only the cancelled waiter is gone')
  t.equal(waiters.wake(1), 1)
  other.cancel()
  t.equal(waiters.size, 0)
})

t.test('wakeAll answers every waiter, for a graceful shutdown', async (t) => {
  const waiters = createWaiters<number>()
  const outcomes = Promise.all([1, 2, 2, 3].map((key) => waiters.register(key).wait(5000, never)))
  waiters.wakeAll()
  t.same(await outcomes, ['closing', 'closing', 'closing', 'closing'])
  t.equal(waiters.size, 0)
})

t.test('longPoll', async (t) => {
  t.test('a wake-up between the query and the wait re-runs the query at once', async (t) => {
    const waiters = createWaiters<number>()
    let calls = 0
    const started = Date.now()
    const result = await longPoll({
      waiters,
      key: 1,
      seconds: 5,
      signal: never,
      ready: (items: string[]) => items.length > 0,
      query: async () => {
        calls++
        // The message commits (and its wake-up is delivered) after this query read nothing.
        if (calls === 1) {
          setImmediate(() => waiters.wake(1))
          await new Promise((resolve) => setTimeout(resolve, 20))
          return []
        }
        return ['hello']
      }
    })
    t.same(result, ['hello'])
    t.equal(calls, 2)
    t.ok(Date.now() - started < 1000, 'without waiting for the time to run out')
    t.equal(waiters.size, 0)
  })

  t.test('nothing arrives: returns the empty result after the wait, and leaves no waiter', async (t) => {
    const waiters = createWaiters<number>()
    const started = Date.now()
    const result = await longPoll({ waiters, key: 1, seconds: 1, signal: never, ready: (n: number) => n > 0, query: async () => 0 })
    t.equal(result, 0)
    t.ok(Date.now() - started >= 950)
    t.equal(waiters.size, 0)
  })

  t.test('seconds=0 answers at once without registering', async (t) => {
    const waiters = createWaiters<number>()
    let seen = -1
    const result = await longPoll({ waiters, key: 1, seconds: 0, signal: never, ready: () => false, query: async () => { seen = waiters.size; return 'x' } })
    t.equal(result, 'x')
    t.equal(seen, 0)
  })

  t.test('a query that throws leaves no waiter', async (t) => {
    const waiters = createWaiters<number>()
    await t.rejects(longPoll({ waiters, key: 1, seconds: 5, signal: never, ready: () => false, query: async () => { throw new Error('db down') } }), /db down/)
    t.equal(waiters.size, 0)
  })
})
