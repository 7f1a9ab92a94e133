/**
 * Fan-out benchmark: one message to a room whose members all wait on one API process, as WebSockets and as long
 * polls. What each costs the API (memory for idle sockets, CPU per delivered event) and how long the message takes to
 * reach the last of them, measured from the send's 202, for both ways a wake-up reaches the readers: `room` (the
 * room's news read once for all of them) against `connection` (each reads its whole feed, the former way), in the
 * same run, on the same data.
 *
 *   npm run bench:sockets -- [--sockets=2000] [--rounds=3] [--profile=<folder>] (CPU profiles of the API over the rounds)
 *     [--fanout=room|connection] (only that way)
 *
 * Runs its own deployment (a fresh database and Redis prefix, dropped at the end): one API process and one worker
 * process, started from source as children so the API's memory and CPU can be read from /proc. Each reader is a user
 * of its own, in one big room; nothing else happens. It fails if a reader gets a message twice, out of order, without
 * a cursor, or other than the one sent.
 */
import { mkdir } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { WebSocket } from 'ws'
import { createDb, type Db } from '../core/db/connect.js'
import type { Config } from '../core/config.js'
import { mapLimit } from '../harness/map-limit.js'
import { startApi, startWorker, type ApiProcess } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { cheapPasswordHash, cpuSeconds, createClient, password, percentile, progress, rssMiB, startProfile } from './support.js'

const { values: args } = parseArgs({
  options: { sockets: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, profile: { type: 'string' }, fanout: { type: 'string' } }
})
const readers = Number(args.sockets)
const rounds = Number(args.rounds)
/** A folder for CPU profiles of the API process over the rounds (sockets, long polls), one per way and kind. */
const profile = args.profile
const fanouts = ['connection', 'room'] as const
type Fanout = typeof fanouts[number]
/** Only one of the two ways (`--fanout=room`, say): quicker, with nothing to compare it to in the run. */
const measured = fanouts.filter((fanout) => args.fanout === undefined || args.fanout === fanout)

const cleanup: Array<() => unknown> = []

async function metric (url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const match = new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)
  return match === null ? 0 : Number(match[1])
}

/** Waits for `check`; `what` says what never came, asked only then (it may read the API's metrics). */
async function until (check: () => Promise<boolean>, what: string | (() => Promise<string>)): Promise<void> {
  const deadline = performance.now() + 120_000
  while (!await check()) {
    if (performance.now() > deadline) throw new Error(`never: ${typeof what === 'string' ? what : await what()}`)
    await sleep(100)
  }
}

/** One round: a message sent, and per reader the ms from the send's 202 to its arrival; the API's CPU for the lot. */
interface Round { delivered: number[], cpuMs: number }

interface Result { fanout: Fanout, sockets: Round[], polls: Round[], rssBefore: number, rssIdle: number, reads: number }

async function measure (config: Config, db: Db, fanout: Fanout, tokens: Map<string, string>, roomId: number, names: string[]): Promise<Result> {
  const api = await startApi(config, { FEED_FANOUT: fanout }, { within: 120_000 })
  cleanup.push(() => api.stop())
  try {
    return await measureOn(api, db, fanout, tokens, roomId, names)
  } catch (error) {
    // What the API said last (a crash, a warning) is what explains most failures.
    progress(`${fanout}: failed; the API's last output:\n${api.output()}`)
    throw error
  }
}

async function measureOn (api: ApiProcess, db: Db, fanout: Fanout, tokens: Map<string, string>, roomId: number, names: string[]): Promise<Result> {
  const control = createClient(api.url)
  const sender = tokens.get('sender') as string
  await sleep(2000)
  const rssBefore = await rssMiB(api.pid)

  /** Sends one message and waits until `count` readers have it; `arrived` is called by each reader as it does. */
  async function round (count: () => number, arrivals: number[]): Promise<Round> {
    const cpuBefore = await cpuSeconds(api.pid)
    arrivals.length = 0
    const sent = await control.request('POST', `/v1/rooms/${roomId}/messages`, { token: sender, body: { text: 'to everyone' } })
    if (sent.status !== 202) throw new Error(`send: ${sent.status}`)
    accepted = performance.now()
    sentSeq++
    await until(async () => count() >= readers, async () => `${readers} readers got the message (${count()} did); the API's wake-ups: ${await metric(api.url, 'pigeon_wakeups_received_total{channel="room",type="room-message"}')} messages from rooms, ${await metric(api.url, 'pigeon_wakeup_channels')} channels`)
    return { delivered: [...arrivals], cpuMs: (await cpuSeconds(api.pid) - cpuBefore) * 1000 }
  }
  let accepted = 0
  // Nothing but the bench sends to the room: each round's message has the room's next seq.
  let sentSeq = (await db.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow()).last_seq
  /** What a reader got that it should not have: a message twice, out of order, or not the one sent. */
  const wrong: string[] = []

  // WebSockets: each a user of its own, all in the room. Each must get each message once, in order, with a cursor.
  const socketArrivals: number[] = []
  const wsUrl = `${api.url.replace('http', 'ws')}/v1/ws`
  const sockets = await mapLimit(names, 100, async (username) => {
    const socket = new WebSocket(wsUrl, ['pigeon.v1', `bearer.${tokens.get(username) as string}`])
    let lastSeen = 0
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string, cursor?: string, data: { seq: number } }
      if (frame.type !== 'message.created') return
      if (frame.data.seq <= lastSeen || typeof frame.cursor !== 'string') wrong.push(`${username}'s socket: seq ${frame.data.seq} after ${lastSeen}${typeof frame.cursor === 'string' ? '' : ', no cursor'}`)
      lastSeen = frame.data.seq
      socketArrivals.push(performance.now() - accepted)
    })
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
    return socket
  })
  await until(async () => await metric(api.url, 'pigeon_websockets_open') >= readers, `${readers} sockets open`)
  // Every socket has read its feed once and waits.
  await until(async () => await metric(api.url, 'pigeon_feed_reads_total{channel="socket"}') >= readers, 'every socket read its feed')
  await sleep(2000)
  const rssIdle = await rssMiB(api.pid)
  progress(`${fanout}: ${readers} sockets open and waiting`)
  const readsBefore = await metric(api.url, 'pigeon_feed_reads_total{channel="socket"}') + await metric(api.url, 'pigeon_feed_reads_total{channel="room"}')
  const socketRounds: Round[] = []
  const socketsProfile = profile === undefined ? undefined : await startProfile(api.pid)
  // A first message, not counted, warms the path up (a server that has run for a while has compiled it).
  for (let i = -1; i < rounds; i++) {
    const measured = await round(() => socketArrivals.length, socketArrivals)
    if (i >= 0) socketRounds.push(measured)
  }
  await socketsProfile?.stop(`${profile}/${fanout}-sockets.cpuprofile`)
  const reads = await metric(api.url, 'pigeon_feed_reads_total{channel="socket"}') + await metric(api.url, 'pigeon_feed_reads_total{channel="room"}') - readsBefore
  for (const socket of sockets) socket.terminate()
  await until(async () => await metric(api.url, 'pigeon_websockets_open') === 0, 'the sockets closed')

  // Long polls: one held request per user, each on its own connection, re-polled with its cursor every round.
  const pollArrivals: number[] = []
  const cursors = new Map<string, string>()
  const polls = createClient(api.url)
  cleanup.push(() => polls.close())
  // What the sockets were sent is unseen still (a socket acknowledges only when it resumes): each poller takes it first.
  await mapLimit(names, 100, async (username) => {
    const answer = await polls.request('GET', '/v1/messages/unseen', { token: tokens.get(username) })
    cursors.set(username, answer.body.cursor)
  })
  const pollRounds: Round[] = []
  const pollsProfile = profile === undefined ? undefined : await startProfile(api.pid)
  for (let i = -1; i < rounds; i++) {
    const held = names.map(async (username) => {
      const cursor = cursors.get(username)
      const answer = await polls.request('GET', `/v1/messages/unseen?wait=30${cursor === undefined ? '' : `&cursor=${cursor}`}`, { token: tokens.get(username) })
      if (answer.status !== 200) throw new Error(`poll: ${answer.status}`)
      const items = answer.body.items as Array<{ seq: number }>
      // Each answer holds the one message sent since the cursor it passed: no other, none twice.
      if (items.length > 1 || (items[0] !== undefined && items[0].seq !== sentSeq)) wrong.push(`${username}'s poll: seqs ${items.map((item) => item.seq).join(', ')}, the message sent was ${sentSeq}`)
      if (items.length > 0) pollArrivals.push(performance.now() - accepted)
      cursors.set(username, answer.body.cursor)
    })
    await until(async () => await metric(api.url, 'pigeon_longpoll_waiters{kind="feed"}') >= readers, `${readers} long polls held`)
    const measured = await round(() => pollArrivals.length, pollArrivals)
    if (i >= 0) pollRounds.push(measured)
    await Promise.all(held)
  }
  await pollsProfile?.stop(`${profile}/${fanout}-polls.cpuprofile`)
  progress(`${fanout}: done`)
  if (wrong.length > 0) throw new Error(`${fanout}: ${wrong.length} readers got what they should not have, such as ${wrong.slice(0, 3).join('; ')}`)
  polls.close()
  control.close()
  await api.stop()
  return { fanout, sockets: socketRounds, polls: pollRounds, rssBefore, rssIdle, reads }
}

async function main (): Promise<void> {
  if (profile !== undefined) await mkdir(profile, { recursive: true })
  const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
  const worker = startWorker(config)
  cleanup.push(() => worker.stop())

  // Users and the room straight into Postgres: the bench measures fan-out, not sign-ups.
  const db = createDb(config.DATABASE_URL, { max: 2 })
  cleanup.push(() => db.destroy())
  const names = Array.from({ length: readers }, (_, i) => `idle_${i + 1}`)
  const { rows } = await sql<{ id: number, username: string }>`
    insert into users (username, password_hash, display_name)
    select name, ${await cheapPasswordHash()}, name from unnest(${['sender', ...names]}::text[]) as name
    returning id, username`.execute(db)
  const room = await db.insertInto('rooms').values({ kind: 'group', name: 'lobby' }).returning('id').executeTakeFirstOrThrow()
  await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${rows.map((row) => row.id)}::bigint[])`.execute(db)

  // Tokens from a first API process; every process of the deployment shares the JWT secret.
  const login: ApiProcess = await startApi(config, {}, { within: 120_000 })
  const control = createClient(login.url)
  const tokens = new Map<string, string>()
  await mapLimit(['sender', ...names], 32, async (username) => {
    const response = await control.request('POST', '/v1/auth/token', { body: { username, password } })
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`)
    tokens.set(username, response.body.accessToken)
  })
  control.close()
  await login.stop()
  progress(`seeded and logged in ${names.length + 1} users`)

  const results: Result[] = []
  for (const fanout of measured) results.push(await measure(config, db, fanout, tokens, room.id, names))

  const all = (list: Round[]) => list.flatMap((round) => round.delivered)
  const p99s = (list: Round[]) => list.map((round) => percentile(round.delivered, 99).toFixed(0)).join(' / ')
  const cpuPerEvent = (list: Round[]) => (list.reduce((sum, round) => sum + round.cpuMs, 0) * 1000 / all(list).length).toFixed(0)
  console.log(`\nOne message to a room of ${readers} readers, all on one API process; ${rounds} rounds each after one not counted; times from the send's 202:\n`)
  console.log(`| | ${results.map((result) => `\`${result.fanout}\``).join(' | ')} |`)
  console.log(`| --- | ${results.map(() => '---').join(' | ')} |`)
  const row = (what: string, cell: (result: Result) => string) => console.log(`| ${what} | ${results.map(cell).join(' | ')} |`)
  row('sockets: delivered p50, all rounds', (r) => `${percentile(all(r.sockets), 50).toFixed(0)} ms`)
  row('sockets: delivered p99, each round', (r) => `${p99s(r.sockets)} ms`)
  row('sockets: last delivered, all rounds', (r) => `${Math.max(...all(r.sockets)).toFixed(0)} ms`)
  row('sockets: API CPU per delivered event', (r) => `${cpuPerEvent(r.sockets)} µs`)
  row('sockets: feed queries per message', (r) => (r.reads / (rounds + 1)).toFixed(1))
  row('long polls: answered p50, all rounds', (r) => `${percentile(all(r.polls), 50).toFixed(0)} ms`)
  row('long polls: answered p99, each round', (r) => `${p99s(r.polls)} ms`)
  row('long polls: API CPU per answered poll', (r) => `${cpuPerEvent(r.polls)} µs`)
  row('RSS before the sockets', (r) => `${r.rssBefore.toFixed(1)} MiB`)
  row('per idle socket', (r) => `${(((r.rssIdle - r.rssBefore) * 1024) / readers).toFixed(1)} KiB`)
}

try {
  await main()
} finally {
  for (const fn of cleanup.reverse()) await fn()
}
