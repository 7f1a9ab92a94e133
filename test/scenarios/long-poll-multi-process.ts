import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type ApiProcess } from '../../harness/processes.js'
import { checkedFetch } from '../helper.js'
import { call, signUp } from '../http-client.js'

/**
 * Two API processes and `workers` worker processes on one deployment (database, Redis, prefix, JWT secret): a
 * wake-up published by a worker must reach a poll held by either API, whichever API took the send.
 */
export async function longPollMultiProcess (t: Test, config: Config, { workers }: { workers: number }): Promise<void> {
  const [first, second] = await Promise.all([startApi(config), startApi(config)])
  const running = Array.from({ length: workers }, () => startWorker(config))
  t.teardown(async () => { await Promise.all([first.stop(), second.stop(), ...running.map((worker) => worker.stop())]) })

  /** Resolves once `api` reports `n` requests waiting on the unseen feed (its /metrics waiter gauge). */
  async function feedWaiters (api: ApiProcess, n: number): Promise<void> {
    const deadline = Date.now() + 5000
    for (;;) {
      const metrics = await checkedFetch(`${api.url}/metrics`).then((response) => response.text())
      if (new RegExp(`^pigeon_longpoll_waiters\\{kind="feed"\\} ${n}$`, 'm').test(metrics)) return
      if (Date.now() > deadline) throw new Error(`${api.url} never had ${n} feed waiters`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  const alice = await signUp(first, 'alice_mp', { loginAt: second })
  const bob = await signUp(first, 'bob_mp', { loginAt: second })
  const room = await call(second, 'POST', '/v1/rooms', { token: alice.token, body: { name: 'across processes', memberIds: [bob.id] } })
  // Longer than the 20 s waits below: a wait nobody woke fails on the answer it gives when it runs out, not on an abort.
  const abortAfter = 30_000

  t.test('a poll held by one API wakes on a message sent through the other', async (t) => {
    t.equal(room.status, 201)
    const polling = call(first, 'GET', '/v1/messages/unseen?wait=20', { token: bob.token, abortAfter })
    await feedWaiters(first, 1)
    const sent = await call(second, 'POST', `/v1/rooms/${room.body.id}/messages`, { token: alice.token, body: { text: 'hello from API #2' } })
    t.equal(sent.status, 202)

    const { status, body } = await polling
    t.equal(status, 200)
    t.match(body.items, [{ roomId: room.body.id, seq: 1, senderId: alice.id, text: 'hello from API #2' }])
    // The message itself proves the wake-up: a poll nobody woke answers an empty list when its wait runs out.
    t.equal(body.items.length, 1)

    // And the other way round, acknowledging the first message with the cursor.
    const again = call(second, 'GET', `/v1/messages/unseen?wait=20&cursor=${body.cursor}`, { token: bob.token, abortAfter })
    await feedWaiters(second, 1)
    await call(first, 'POST', `/v1/rooms/${room.body.id}/messages`, { token: alice.token, body: { text: 'hello from API #1' } })
    const next = await again
    t.same(next.body.items.map((item: { text: string }) => item.text), ['hello from API #1'])
  })

  t.test('a task wait held by one API returns when a worker finishes the send taken by the other', async (t) => {
    const sent = await call(second, 'POST', `/v1/rooms/${room.body.id}/messages`, { token: alice.token, body: { text: 'tracked across processes' } })
    t.equal(sent.status, 202)
    const task = await call(first, 'GET', `/v1/tasks/${sent.body.taskId}?wait=20`, { token: alice.token, abortAfter })
    t.equal(task.status, 200)
    // Completed, not still queued: a wait nobody woke answers the state it found when its time runs out.
    t.match(task.body, { state: 'completed', result: { text: 'tracked across processes', senderId: alice.id } })
  })
}
