import type { Test } from 'tap'
import type { Config } from '../../core/config.js'
import { startApi, startWorker, type ApiProcess } from '../../harness/processes.js'
import { checkedFetch } from '../helper.js'
import { call, createRoom, signUp } from '../http-client.js'
import { openSocket } from '../socket-client.js'

/**
 * Four API processes and a worker on one deployment: a wake-up reaches only the instances that hold a reader of
 * someone it concerns. Bob reads on #1 (a long poll) and Dave on #3 (a socket); #2 and #4 hold nobody, and take the
 * sends. Each instance's `pigeon_wakeups_received_total` says what it received.
 */
export async function wakeupSharding (t: Test, config: Config): Promise<void> {
  // Four processes compiling their TypeScript at once on a busy machine: more time than one needs.
  const apis = await Promise.all(Array.from({ length: 4 }, async () => await startApi(config, {}, { within: 120_000 })))
  const worker = startWorker(config)
  t.teardown(async () => { await Promise.all([...apis.map((api) => api.stop()), worker.stop()]) })
  const [first, second, third, fourth] = apis as [ApiProcess, ApiProcess, ApiProcess, ApiProcess]

  const metrics = async (api: ApiProcess) => await checkedFetch(`${api.url}/metrics`).then((response) => response.text())
  /** A counter or gauge of one instance; a labelled counter nobody counted yet has no line, and is 0. */
  const value = async (api: ApiProcess, line: string) => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(await metrics(api))?.[1] ?? 0)
  /**
   * The wake-ups of one kind an instance received, of one type or of all. A reader's presence change also goes to
   * their rooms' channels, and reaches the instance holding them whenever it lands after the subscription: only
   * what is counted by type is exact.
   */
  const received = async (api: ApiProcess, channel: 'room' | 'user', type?: string) => {
    const lines = (await metrics(api)).matchAll(/^pigeon_wakeups_received_total\{channel="(\w+)",type="([\w-]+)"\} (\d+)$/gm)
    return [...lines].filter(([, kind, of]) => kind === channel && (type === undefined || of === type)).reduce((sum, line) => sum + Number(line[3]), 0)
  }
  async function until (what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000
    while (!await check()) {
      if (Date.now() > deadline) throw new Error(`never: ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  const [alice, bob, carol, dave] = [
    await signUp(second, 'alice_shard'), await signUp(second, 'bob_shard'), await signUp(second, 'carol_shard'), await signUp(second, 'dave_shard')
  ]
  const aliceAndBob = await createRoom(second, alice, 'alice and bob', [bob])
  const carolAndDave = await createRoom(second, carol, 'carol and dave', [dave])

  t.test('a room\'s wake-ups reach only the instance holding one of its members', async (t) => {
    const polling = call(first, 'GET', '/v1/messages/unseen?wait=20', { token: bob.token, abortAfter: 30_000 })
    const socket = await openSocket(`${third.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${dave.token}`])
    t.teardown(() => socket.socket.terminate())
    t.match(await socket.next(), { type: 'ready', userId: dave.id })
    // Each holds its reader's user channel and the channel of its one room.
    await until('#1 and #3 hold their readers\' channels', async () =>
      await value(first, 'pigeon_wakeup_channels') === 2 && await value(third, 'pigeon_wakeup_channels') === 2)

    const sent = await call(fourth, 'POST', `/v1/rooms/${aliceAndBob}/messages`, { token: alice.token, body: { text: 'for bob' } })
    t.equal(sent.status, 202)
    const answer = await polling
    t.same(answer.body.items.map((item: { text: string }) => item.text), ['for bob'], 'bob\'s poll on #1 was woken')
    t.equal(await received(first, 'room', 'room-message'), 1, '#1 received the room\'s wake-up')

    await call(second, 'POST', `/v1/rooms/${carolAndDave}/messages`, { token: carol.token, body: { text: 'for dave' } })
    t.match((await socket.next((frame) => frame.type === 'message.created')).data, { text: 'for dave' }, 'dave\'s socket on #3 got its message')
    // The socket may have read the message on its own first read: its wake-up can land just after.
    await until('#3 received the room\'s wake-up', async () => await received(third, 'room', 'room-message') >= 1)
    t.equal(await received(third, 'room', 'room-message'), 1, '#3 received its room\'s wake-up, and none of alice and bob\'s')
    t.equal(await received(first, 'room', 'room-message'), 1, '#1 received none of carol and dave\'s')
    for (const [name, api] of [['#2', second], ['#4', fourth]] as const) {
      t.equal(await received(api, 'room') + await received(api, 'user'), 0, `${name}, holding nobody, received nothing, though it took sends`)
      t.equal(await value(api, 'pigeon_wakeup_channels'), 0, `${name} is subscribed to no channel`)
    }
  })

  t.test('a user\'s wake-ups reach only the instances holding them', async (t) => {
    // Alice's socket on #2: only #2 holds her channel, so only #2 hears that her task finished. Its first feed read
    // comes after her channel was subscribed.
    const socket = await openSocket(`${second.url.replace('http', 'ws')}/v1/ws`, ['pigeon.v1', `bearer.${alice.token}`])
    t.teardown(() => socket.socket.terminate())
    await until('alice\'s socket read its feed', async () => await value(second, 'pigeon_feed_reads_total{channel="socket"}') >= 1)
    const before = await Promise.all(apis.map(async (api) => await received(api, 'user', 'task-finished')))
    const sent = await call(fourth, 'POST', `/v1/rooms/${aliceAndBob}/messages`, { token: alice.token, body: { text: 'tracked' } })
    t.match((await socket.next((frame) => frame.type === 'task.finished')).data, { id: sent.body.taskId, state: 'completed' })
    const after = await Promise.all(apis.map(async (api) => await received(api, 'user', 'task-finished')))
    t.same(after.map((count, i) => count - (before[i] ?? 0)), [0, 1, 0, 0], 'only #2 received alice\'s task-finished')
  })
}
