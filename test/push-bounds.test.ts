import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, eventually, getUnseen, sendAndStore } from './messaging-helper.js'
import { openSocket, type SocketClient } from './socket-client.js'
import { openSse, type SseStream } from './sse-client.js'

// The production bounds (10 of each kind per user), which the other test files put out of reach.
const config = await testConfig(t, { PUSH_HEARTBEAT_SECONDS: '0.2', LONG_POLLS_PER_USER: '10', EVENT_STREAMS_PER_USER: '10', SOCKETS_PER_USER: '10' })
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

let users = 0
const user = async () => await createUser(app, `bounded_${++users}`)

/** A number of this API's /metrics, by its name and labels as they are printed. */
async function metric (series: string): Promise<number> {
  const line = (await app.inject('/metrics')).body.split('\n').find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}
const feedReads = async () => await metric('pigeon_feed_reads_total{channel="socket"}') + await metric('pigeon_feed_reads_total{channel="event-stream"}')

async function socketOf (t: Test, who: TestUser): Promise<SocketClient> {
  const client = await openSocket(`${base.replace('http:', 'ws:')}/v1/ws`, ['pigeon.v1', `bearer.${who.accessToken}`])
  t.teardown(() => client.socket.terminate())
  t.match(await client.next(), { type: 'ready' })
  return client
}

async function streamOf (t: Test, who: TestUser): Promise<SseStream> {
  const stream = await openSse(`${base}/v1/events?seconds=600`, who.auth)
  t.teardown(stream.close)
  t.same(await stream.next(), { retry: 3000 })
  return stream
}

/** Lets `count` heartbeats of a stream go by: a stretch of idle time measured by the server's own clock. */
async function heartbeats (stream: SseStream, count: number): Promise<void> {
  for (let seen = 0; seen < count;) if ((await stream.next())?.comment === 'heartbeat') seen++
}

t.test('an eleventh socket of one user closes the oldest with 4409, and the rest cost no reads while idle', async (t) => {
  const bob = await user()
  const sockets: SocketClient[] = []
  for (let i = 0; i < 11; i++) sockets.push(await socketOf(t, bob))
  t.equal(await sockets[0]?.closed, 4409, 'the oldest is closed with a code that says why')

  // Wait until every socket's feed read is done and its wait registered, then count reads over an idle stretch.
  await eventually(() => metric('pigeon_longpoll_waiters{kind="push"}'), (waiting) => waiting === 10)
  const before = await feedReads()
  const newest = sockets[10]?.socket
  for (let pings = 0; pings < 5; pings++) await once(newest as NonNullable<typeof newest>, 'ping')
  t.equal(await feedReads(), before, 'five heartbeats later, not one feed read more')
  t.equal(await metric('pigeon_websockets_open'), 10)
})

t.test('an eleventh event stream ends the oldest with a final event, and the rest cost no reads while idle', async (t) => {
  const bob = await user()
  const streams: SseStream[] = []
  for (let i = 0; i < 11; i++) streams.push(await streamOf(t, bob))
  const oldest = streams[0] as SseStream
  const end = await oldest.nextEvent()
  t.equal(end?.event, 'end')
  t.match(JSON.parse(end?.data ?? '{}'), { code: 'TOO_MANY_STREAMS' })
  let after = await oldest.next()
  while (after?.comment === 'heartbeat') after = await oldest.next()
  t.equal(after, undefined, 'then the stream ends')

  await eventually(() => metric('pigeon_longpoll_waiters{kind="push"}'), (waiting) => waiting === 10)
  const before = await feedReads()
  await heartbeats(streams[10] as SseStream, 5)
  t.equal(await feedReads(), before, 'five heartbeats later, not one feed read more')
})

t.test('long polls, streams and sockets each have their own bound: ten of each, and none pushes another out', async (t) => {
  const [alice, bob] = [await user(), await user()]
  const room = await createGroupRoom(app, alice, 'all kinds', [bob])
  const sockets: SocketClient[] = []
  const streams: SseStream[] = []
  for (let i = 0; i < 10; i++) sockets.push(await socketOf(t, bob))
  for (let i = 0; i < 10; i++) streams.push(await streamOf(t, bob))
  const { cursor } = (await getUnseen(app, bob)).json()
  const polls = Array.from({ length: 10 }, () => getUnseen(app, bob, { cursor, wait: 30 }))
  await eventually(() => metric('pigeon_longpoll_waiters{kind="feed"}'), (waiting) => waiting === 10)
  await eventually(() => metric('pigeon_longpoll_waiters{kind="push"}'), (waiting) => waiting === 20)

  const sent = await sendAndStore(app, alice, room.id, 'to every connection')
  for (const poll of await Promise.all(polls)) t.same(poll.json().items.map((m: { id: number }) => m.id), [sent.id])
  for (const socket of sockets) t.equal((await socket.next((frame) => frame.type === 'message.created')).data.id, sent.id)
  for (const stream of streams) t.equal(JSON.parse((await stream.nextEvent())?.data ?? '{}').id, sent.id)
})
