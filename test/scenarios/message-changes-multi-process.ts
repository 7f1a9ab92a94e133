import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type ApiProcess } from '../../harness/processes.js'
import { call, signUp } from '../http-client.js'

interface Message { id: number, roomId: number, seq: number, text: string | null, editedAt: string | null, deletedAt: string | null }

/**
 * Two API processes and `workers` worker processes: a long-poller that started before a burst of sends, edits and
 * deletes (taken by either API) ends with exactly the rooms' final state, and sees each change once.
 */
export async function messageChangesMultiProcess (t: Test, config: Config, { workers }: { workers: number }): Promise<void> {
  const apis = await Promise.all([startApi(config), startApi(config)])
  const [first, second] = apis as [ApiProcess, ApiProcess]
  const running = Array.from({ length: workers }, () => startWorker(config))
  t.teardown(async () => { await Promise.all([first.stop(), second.stop(), ...running.map((worker) => worker.stop())]) })

  const alice = await signUp(first, 'alice_burst', { loginAt: second })
  const bob = await signUp(second, 'bob_burst', { loginAt: first })
  const rooms: number[] = []
  for (const name of ['burst one', 'burst two']) {
    const created = await call(first, 'POST', '/v1/rooms', { token: alice.token, body: { name, memberIds: [bob.id] } })
    if (created.status !== 201) throw new Error(`room: ${created.status}`)
    rooms.push(created.body.id)
  }

  /** Accepts a task on one API and waits for it on the other: the finished task. */
  async function run (n: number, method: string, path: string, body?: unknown) {
    const accepted = await call(apis[n % 2] as ApiProcess, method, path, { token: alice.token, body })
    if (accepted.status !== 202) throw new Error(`${method} ${path}: ${accepted.status} ${JSON.stringify(accepted.body)}`)
    for (;;) {
      const task = await call(apis[(n + 1) % 2] as ApiProcess, 'GET', `/v1/tasks/${accepted.body.taskId}?wait=10`, { token: alice.token })
      if (task.body.state === 'completed') return task.body
      if (task.body.state === 'failed') throw new Error(`task failed: ${JSON.stringify(task.body.error)}`)
    }
  }

  /** Each message's life: 0 stays, 1 edited, 2 edited twice, 3 deleted, 4 edited then deleted. */
  async function burstOne (n: number): Promise<void> {
    const roomId = rooms[n % 2] as number
    const sent = await run(n, 'POST', `/v1/rooms/${roomId}/messages`, { text: `message ${n}` })
    const id: number = sent.result.id
    const life = n % 5
    if (life === 1 || life === 2 || life === 4) await run(n + 1, 'PATCH', `/v1/messages/${id}`, { text: `message ${n}, edited` })
    if (life === 2) await run(n, 'PATCH', `/v1/messages/${id}`, { text: `message ${n}, edited twice` })
    if (life === 3 || life === 4) await run(n + 1, 'DELETE', `/v1/messages/${id}`)
  }

  // bob's client: what it holds, by message id, and every change it was told of.
  const held = new Map<number, Message>()
  const itemsSeen: number[] = []
  const duplicateChanges: Message[] = []
  let changesSeen = 0
  let cursor = (await call(second, 'GET', '/v1/messages/unseen', { token: bob.token })).body.cursor as string
  const burstDone = new AbortController()

  async function pollOnce (n: number, wait: number): Promise<number> {
    const answer = await call(apis[n % 2] as ApiProcess, 'GET', `/v1/messages/unseen?wait=${wait}&limit=7&cursor=${cursor}`, { token: bob.token })
    if (answer.status !== 200) throw new Error(`poll: ${answer.status} ${JSON.stringify(answer.body)}`)
    for (const item of answer.body.items as Message[]) {
      itemsSeen.push(item.id)
      held.set(item.id, item)
    }
    for (const change of answer.body.changes as Message[]) {
      changesSeen++
      const before = held.get(change.id)
      // A change that tells nothing new (the same state again) was seen twice.
      if (before !== undefined && JSON.stringify(before) === JSON.stringify(change)) duplicateChanges.push(change)
      held.set(change.id, change)
    }
    cursor = answer.body.cursor
    return answer.body.items.length + answer.body.changes.length
  }

  const poller = (async () => {
    for (let n = 0; !burstDone.signal.aborted; n++) await pollOnce(n, 2)
  })()

  const count = 40
  const burst = Array.from({ length: count }, (_, n) => n)
  // Eight at a time, so sends, edits and deletes of different messages interleave with each other and with the polls.
  for (let start = 0; start < count; start += 8) await Promise.all(burst.slice(start, start + 8).map(burstOne))
  burstDone.abort()
  await poller

  // After the burst: poll until an answer brings nothing (every change published before it is in it or earlier).
  for (let n = 0; await pollOnce(n, 0) > 0; n++);

  /**
   * The rooms' history once it is the primary's: with a read replica, history may lag (README: Read replicas), so it is
   * read again until every message in it says what the message's own route (on the primary) says.
   */
  async function finalState (): Promise<Message[]> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const all: Message[] = []
      for (const roomId of rooms) {
        const history = await call(first, 'GET', `/v1/rooms/${roomId}/messages?limit=200`, { token: bob.token })
        all.push(...history.body.items as Message[])
      }
      const primary = await Promise.all(all.map(async (message) => (await call(first, 'GET', `/v1/messages/${message.id}`, { token: bob.token })).body as Message))
      const caughtUp = all.length === count && all.every((message, i) =>
        message.text === primary[i]?.text && message.editedAt === primary[i]?.editedAt && message.deletedAt === primary[i]?.deletedAt)
      if (caughtUp || Date.now() > deadline) return all
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  t.test('the poller holds exactly the rooms\' final state, each message once, each change once', async (t) => {
    const final = await finalState()
    t.equal(final.length, count, 'every send stored')
    t.equal(new Set(itemsSeen).size, itemsSeen.length, 'no message came twice as an item')
    t.same(duplicateChanges, [], 'no change came twice')

    const live = final.filter((message) => message.deletedAt === null)
    for (const message of live) {
      t.same(held.get(message.id), message, `message ${message.id} as it is now`)
    }
    // A message deleted before bob fetched it never reached him; one he had, he holds as a tombstone.
    for (const message of final.filter((m) => m.deletedAt !== null)) {
      const mine = held.get(message.id)
      if (mine !== undefined) t.same(mine, message, `message ${message.id} held as a tombstone`)
    }
    t.equal([...held.keys()].filter((id) => !final.some((m) => m.id === id)).length, 0, 'nothing held that is not in the rooms')
    t.equal(live.filter((m) => m.editedAt !== null).length, count * 2 / 5, 'the edited ones are there, edited')
    t.ok(changesSeen > 0, 'some changes came as changes (the poller had the message before it changed)')
    t.comment(`${itemsSeen.length} items and ${changesSeen} changes reached the poller`)
  })
}
