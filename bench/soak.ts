/**
 * Soak run: a real deployment under a steady mixed load for a long time, watching for what creeps (memory, Redis
 * keys, tables, latency), then checking that nothing was lost or doubled.
 *
 *   npm run soak -- [--minutes=60] [--rate=60] [--faults] [--fault-every=4] [--users=60]
 *
 * Its own database and Redis prefix (dropped at the end), two API processes and two workers from source, every
 * request to 127.0.0.1. The load: `rate` sends a second into rooms of 2 to 50 members, from clients that retry with
 * an Idempotency-Key; every member reads its feed by long poll, event stream or WebSocket, acknowledging with
 * cursors, and streams and sockets reconnect with their cursors now and then; some sends wait on their task, and
 * some of those messages are edited or deleted; churn users join and leave a public room; history and user-list
 * reads. With `--faults`, one API and one worker are restarted (SIGTERM, then started again) every `fault-every`
 * minutes. Each sample (every minute, or a twelfth of a short run) is a JSON line in bench/results/; at the end a
 * table, the checks, the verdict, and an SVG plot beside the JSON.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { mkdir, writeFile, appendFile } from 'node:fs/promises'
import http from 'node:http'
import { loadavg } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { sql } from 'kysely'
import WebSocket from 'ws'
import { createDb } from '../core/db/connect.js'
import { bullPrefix, queueNames } from '../core/queue.js'
import { mapLimit } from '../harness/map-limit.js'
import { freePort, startApi, startWorker, type ApiProcess, type PigeonProcess } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { cheapPasswordHash, createClient, password, percentile, progress, runBench, type Client } from './support.js'

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    rate: { type: 'string', default: '20' },
    faults: { type: 'boolean', default: false },
    'fault-every': { type: 'string', default: '4' },
    users: { type: 'string', default: '60' }
  }
})
const minutes = Number(args.minutes)
const settings = {
  minutes,
  rate: Number(args.rate),
  faults: args.faults,
  // A short run gets its faults closer together, so it still has a few.
  faultEveryMinutes: Math.min(Number(args['fault-every']), minutes / 3),
  users: Math.max(20, Number(args.users)),
  // Every minute; a short run samples a twelfth of its length, so its slopes have points enough.
  sampleSeconds: Math.min(60, (minutes * 60) / 12),
  // Read marks merged within the run (two-minute spans, one row per member past ten minutes), so the soak sees the
  // bound that a day's spans give in production.
  readMarksExactSeconds: 120,
  readMarksKeepSeconds: 600
}
const resultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results')

// --- The deployment ------------------------------------------------------------------------------------------

interface Slot<P extends PigeonProcess> { name: string, process: P, metricsUrl: string, up: boolean }

const cleanup: Array<() => unknown> = []

// --- The load's bookkeeping -------------------------------------------------------------------------------------

interface SoakUser {
  id: number
  username: string
  token: string
  kind: 'poll' | 'sse' | 'ws'
  /** Rooms the user is in from start to end: every message of others there must reach it once. */
  rooms: number[]
  churn: boolean
  api: number
  /** What the user's client holds, as it would show it: every message received, with changes applied. */
  have: Map<number, { roomId: number, seq: number, text: string | null, deleted: boolean }>
  lastSeq: Map<number, number>
  duplicates: number
  outOfOrder: number
  unknownChanges: number
  connected: boolean
}

interface Sent { roomId: number, senderId: number, text: string, at: number }

const accepted = new Map<string, Sent>()
const sentAtByText = new Map<string, number>()
const changeTasks = new Map<string, 'edit' | 'delete'>()
/** Own messages that may be edited or deleted; one taken out while a change of it is in flight. */
const editable: Array<{ id: number, sender: SoakUser }> = []

/** What one sample interval saw. */
interface Window {
  sendsAccepted: number
  sendsRefused: number
  sendErrors: number
  changes: number
  reads: number
  readErrors: number
  joinsLeaves: number
  reconnects: number
  deliveries: number[]
  /** The same, by the kind of client that received them. */
  byKind: Record<SoakUser['kind'], number[]>
  acceptMs: number[]
  unexpected: string[]
}
const freshWindow = (): Window => ({ sendsAccepted: 0, sendsRefused: 0, sendErrors: 0, changes: 0, reads: 0, readErrors: 0, joinsLeaves: 0, reconnects: 0, deliveries: [], byKind: { poll: [], sse: [], ws: [] }, acceptMs: [], unexpected: [] })
let current = freshWindow()
const firstWindowMs: number[] = []
const lastWindowMs: number[] = []

function pick<T> (items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T
}

async function main (): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  await mkdir(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const base = path.join(resultsDir, `soak-${stamp}${settings.faults ? '-faults' : ''}`)
  const jsonl = `${base}.jsonl`

  const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, {
    ACCESS_TOKEN_TTL_SECONDS: String(Math.ceil(minutes * 60 + 3600)),
    LOG_LEVEL: 'warn'
  })
  const readMarks = { READ_MARKS_EXACT_SECONDS: String(settings.readMarksExactSeconds), READ_MARKS_KEEP_SECONDS: String(settings.readMarksKeepSeconds) }
  const spawnApi = async (name: string): Promise<Slot<ApiProcess>> => {
    const internal = await freePort()
    const process = await startApi(config, { INTERNAL_PORT: String(internal), ...readMarks }, { within: 60_000 })
    return { name, process, metricsUrl: `http://127.0.0.1:${internal}/metrics`, up: true }
  }
  const spawnWorker = async (name: string): Promise<Slot<PigeonProcess>> => {
    const port = await freePort()
    const process = startWorker(config, { WORKER_METRICS_PORT: String(port), ...readMarks })
    return { name, process, metricsUrl: `http://127.0.0.1:${port}/metrics`, up: true }
  }
  const apis = [await spawnApi('api-1'), await spawnApi('api-2')]
  const workers = [await spawnWorker('worker-1'), await spawnWorker('worker-2')]
  cleanup.push(async () => await Promise.all([...apis, ...workers].map(async (slot) => await slot.process.stop())))
  const clients: Client[] = apis.map((slot) => createClient(slot.process.url))
  cleanup.push(() => clients.forEach((client) => client.close()))
  progress(`2 APIs, 2 workers; database and prefix ${config.REDIS_PREFIX}`)

  const db = createDb(config.DATABASE_URL, { max: 3 })
  cleanup.push(() => db.destroy())
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null })
  cleanup.push(() => redis.disconnect())
  const queues = [queueNames.tasks, queueNames.markSeen].map((name) => new Queue(name, { connection: redis, prefix: bullPrefix(config.REDIS_PREFIX, name) }))
  cleanup.push(async () => await Promise.all(queues.map(async (queue) => await queue.close())))

  // --- Users and rooms, seeded straight into Postgres; tokens from the real login route.
  const hash = await cheapPasswordHash()
  const names = Array.from({ length: settings.users }, (_, i) => `soak_${i + 1}`)
  const { rows: userRows } = await sql<{ id: number, username: string }>`
    insert into users (username, password_hash, display_name) select name, ${hash}, name from unnest(${names}::text[]) as name
    returning id, username`.execute(db)
  const churnCount = Math.floor(settings.users / 6)
  const kinds = ['poll', 'sse', 'ws'] as const
  const users: SoakUser[] = userRows.map((row, i) => ({
    id: row.id,
    username: row.username,
    token: '',
    kind: kinds[i % 3] as SoakUser['kind'],
    rooms: [],
    churn: i >= settings.users - churnCount,
    api: i % 2,
    have: new Map(),
    lastSeq: new Map(),
    duplicates: 0,
    outOfOrder: 0,
    unknownChanges: 0,
    connected: false
  }))
  const steady = users.filter((user) => !user.churn)
  const churners = users.filter((user) => user.churn)
  // Rooms of different sizes: many pairs and small groups, a few large ones.
  const sizes = [...Array(10).fill(2), ...Array(8).fill(5), ...Array(4).fill(10), 25, 25, Math.min(50, steady.length)] as number[]
  const rooms: Array<{ id: number, members: SoakUser[] }> = []
  for (const [i, size] of sizes.entries()) {
    const members = [...steady].sort(() => Math.random() - 0.5).slice(0, size)
    const room = await db.insertInto('rooms').values({ kind: 'group', name: `soak ${i + 1}`, visibility: 'private' }).returning('id').executeTakeFirstOrThrow()
    await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${members.map((m) => m.id)}::bigint[])`.execute(db)
    for (const member of members) member.rooms.push(room.id)
    rooms.push({ id: room.id, members })
  }
  // The public room that churn users join and leave; ten steady members stay in it throughout.
  const lobbyMembers = steady.slice(0, 10)
  const lobby = await db.insertInto('rooms').values({ kind: 'group', name: 'soak lobby', visibility: 'public' }).returning('id').executeTakeFirstOrThrow()
  await sql`insert into room_members (room_id, user_id) select ${lobby.id}, unnest(${lobbyMembers.map((m) => m.id)}::bigint[])`.execute(db)
  for (const member of lobbyMembers) member.rooms.push(lobby.id)
  rooms.push({ id: lobby.id, members: lobbyMembers })
  await mapLimit(users, 16, async (user) => {
    const response = await clients[0]!.request('POST', '/v1/auth/token', { body: { username: user.username, password } })
    if (response.status !== 200) throw new Error(`login ${user.username}: ${response.status}`)
    user.token = response.body.accessToken
  })
  progress(`seeded ${users.length} users (${churners.length} churn), ${rooms.length} rooms of ${[...new Set(rooms.map((r) => r.members.length))].join('/')} members`)

  let faulting = false
  /** An API to talk to: the user's own, unless it is down (being restarted), as a load balancer would do. */
  const apiFor = (preferred: number): number => apis[preferred]?.up === true ? preferred : 1 - preferred
  const note = (what: string) => { if (!faulting && current.unexpected.length < 20) current.unexpected.push(what) }

  // --- Consumers -----------------------------------------------------------------------------------------------
  const running = new AbortController()
  // Every held connection listens for the end of the run.
  setMaxListeners(Number.POSITIVE_INFINITY, running.signal)
  const now = () => performance.now()
  // Set when the load starts: deliveries in the first and last windows are kept whole, for their p99.
  let loadStart = Number.POSITIVE_INFINITY
  const metricWindowMinutes = Math.min(10, minutes / 6)

  function receive (user: SoakUser, message: { id: number, roomId: number, seq: number, text: string | null, deletedAt?: string | null }): void {
    if (user.have.has(message.id)) {
      user.duplicates++
      return
    }
    if (message.seq <= (user.lastSeq.get(message.roomId) ?? 0)) user.outOfOrder++
    user.lastSeq.set(message.roomId, message.seq)
    user.have.set(message.id, { roomId: message.roomId, seq: message.seq, text: message.text, deleted: message.deletedAt != null })
    const sent = message.text === null ? undefined : sentAtByText.get(message.text)
    if (sent !== undefined) {
      const ms = now() - sent
      current.deliveries.push(ms)
      current.byKind[user.kind].push(ms)
      const elapsed = (now() - loadStart) / 60_000
      if (elapsed <= metricWindowMinutes) firstWindowMs.push(ms)
      if (elapsed >= minutes - metricWindowMinutes) lastWindowMs.push(ms)
    }
  }
  function change (user: SoakUser, message: { id: number, roomId: number, text: string | null, deletedAt?: string | null }): void {
    const held = user.have.get(message.id)
    if (held === undefined) {
      // A member who joined a room is told of changes to what it held before they came (they load history then).
      if (user.rooms.includes(message.roomId)) user.unknownChanges++
      return
    }
    held.text = message.text
    held.deleted = message.deletedAt != null
  }

  async function poll (user: SoakUser): Promise<void> {
    let cursor: string | undefined
    while (!running.signal.aborted) {
      const index = apiFor(user.api)
      const query = `wait=20&limit=100${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`
      const response = await clients[index]!.request('GET', `/v1/messages/unseen?${query}`, { token: user.token }).catch(() => undefined)
      if (response === undefined || response.status !== 200) {
        if (!running.signal.aborted && response !== undefined) note(`poll ${response.status}`)
        await sleep(200)
        continue
      }
      user.connected = true
      for (const item of response.body.items) receive(user, item)
      for (const item of response.body.changes) change(user, item)
      cursor = response.body.cursor
    }
  }

  /** An event stream, reconnecting with its last event id when it ends, drops, or now and then on its own. */
  async function stream (user: SoakUser): Promise<void> {
    let lastId: string | undefined
    while (!running.signal.aborted) {
      const index = apiFor(user.api)
      const { hostname, port } = new URL(apis[index]!.process.url)
      await new Promise<void>((resolve) => {
        const headers: Record<string, string> = { authorization: `Bearer ${user.token}`, accept: 'text/event-stream' }
        if (lastId !== undefined) headers['last-event-id'] = lastId
        const request = http.get({ hostname, port, path: '/v1/events?seconds=300', headers }, (response) => {
          if (response.statusCode !== 200) {
            note(`events ${response.statusCode}`)
            response.resume()
            response.on('end', resolve)
            return
          }
          user.connected = true
          let buffer = ''
          let event: { id?: string, type?: string, data: string } = { data: '' }
          response.setEncoding('utf8')
          response.on('data', (chunk: string) => {
            buffer += chunk
            let newline: number
            while ((newline = buffer.indexOf('\n')) >= 0) {
              const line = buffer.slice(0, newline)
              buffer = buffer.slice(newline + 1)
              if (line === '') {
                if (event.type === 'message.created') receive(user, JSON.parse(event.data))
                else if (event.type === 'message.edited' || event.type === 'message.deleted') change(user, JSON.parse(event.data))
                if (event.id !== undefined && event.type !== 'end') lastId = event.id
                event = { data: '' }
              } else if (line.startsWith('id: ')) event.id = line.slice(4)
              else if (line.startsWith('event: ')) event.type = line.slice(7)
              else if (line.startsWith('data: ')) event.data += line.slice(6)
            }
          })
          response.on('end', resolve)
          response.on('error', () => resolve())
        })
        request.on('error', () => resolve())
        const stop = () => request.destroy()
        running.signal.addEventListener('abort', stop, { once: true })
        // Now and then the client drops and reconnects on its own (a phone changing networks).
        const timer = setTimeout(stop, 60_000 + Math.random() * 120_000)
        request.on('close', () => {
          clearTimeout(timer)
          running.signal.removeEventListener('abort', stop)
          resolve()
        })
      })
      if (!running.signal.aborted) {
        current.reconnects++
        await sleep(100)
      }
    }
  }

  /** A WebSocket, reconnecting with its last cursor when it closes, or now and then on its own. */
  async function socket (user: SoakUser): Promise<void> {
    let cursor: string | undefined
    while (!running.signal.aborted) {
      const index = apiFor(user.api)
      const url = `${apis[index]!.process.url.replace('http', 'ws')}/v1/ws${cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`}`
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(url, ['pigeon.v1', `bearer.${user.token}`])
        const stop = () => ws.terminate()
        running.signal.addEventListener('abort', stop, { once: true })
        const timer = setTimeout(() => ws.close(1000), 60_000 + Math.random() * 120_000)
        ws.on('message', (data) => {
          const frame = JSON.parse(String(data))
          if (frame.type === 'ready') user.connected = true
          else if (frame.type === 'message.created') receive(user, frame.data)
          else if (frame.type === 'message.edited' || frame.type === 'message.deleted') change(user, frame.data)
          if (typeof frame.cursor === 'string') cursor = frame.cursor
        })
        ws.on('unexpected-response', (_request, response) => { note(`ws ${response.statusCode}`); ws.terminate() })
        ws.on('error', () => {})
        ws.on('close', () => {
          clearTimeout(timer)
          running.signal.removeEventListener('abort', stop)
          resolve()
        })
      })
      if (!running.signal.aborted) {
        current.reconnects++
        await sleep(100)
      }
    }
  }

  const consuming = users.map(async (user) => await (user.kind === 'poll' ? poll(user) : user.kind === 'sse' ? stream(user) : socket(user)))
  const connectedBy = Date.now() + 60_000
  while (users.some((user) => !user.connected) && Date.now() < connectedBy) await sleep(200)
  progress(`${users.filter((user) => user.connected).length} of ${users.length} consumers connected (long polls, event streams, sockets)`)

  // --- Producers ------------------------------------------------------------------------------------------------
  /** A write with an Idempotency-Key, retried on the other API when the answer is lost or refused for a while. */
  async function write (user: SoakUser, method: string, route: string, body: unknown): Promise<{ status: number, body: any } | undefined> {
    const key = randomUUID()
    for (let attempt = 0; attempt < 6; attempt++) {
      const index = apiFor(attempt % 2 === 0 ? user.api : 1 - user.api)
      const response = await clients[index]!.request(method, route, { token: user.token, body, headers: { 'idempotency-key': key } }).catch(() => undefined)
      if (response !== undefined && response.status !== 503) return response
      await sleep(250 * 2 ** attempt)
    }
    return undefined
  }
  async function waitTask (user: SoakUser, taskId: string): Promise<any> {
    const response = await clients[apiFor(user.api)]!.request('GET', `/v1/tasks/${taskId}?wait=10`, { token: user.token }).catch(() => undefined)
    return response?.status === 200 ? response.body : undefined
  }

  let sendNumber = 0
  async function send (): Promise<void> {
    const room = pick(rooms.slice(0, -1).concat(Math.random() < 0.2 ? [rooms.at(-1)!] : []))
    const sender = pick(room.members)
    const text = `soak ${++sendNumber} ${randomBytes(4).toString('hex')}`
    const at = now()
    sentAtByText.set(text, at)
    const response = await write(sender, 'POST', `/v1/rooms/${room.id}/messages`, { text })
    if (response === undefined) {
      current.sendErrors++
      return
    }
    if (response.status !== 202) {
      current.sendsRefused++
      note(`send ${response.status} ${JSON.stringify(response.body).slice(0, 120)}`)
      return
    }
    current.sendsAccepted++
    current.acceptMs.push(now() - at)
    accepted.set(response.body.taskId, { roomId: room.id, senderId: sender.id, text, at })
    // One send in ten waits for its task (as a client that wants the message id does), and may be changed later.
    if (Math.random() < 0.1) {
      const task = await waitTask(sender, response.body.taskId)
      if (task?.state === 'completed') editable.push({ id: task.result.id, sender })
    }
  }
  async function changeOne (kind: 'edit' | 'delete'): Promise<void> {
    const target = editable.splice(Math.floor(Math.random() * editable.length), 1)[0]
    if (target === undefined) return
    const response = kind === 'edit'
      ? await write(target.sender, 'PATCH', `/v1/messages/${target.id}`, { text: `edited ${randomBytes(6).toString('hex')}` })
      : await write(target.sender, 'DELETE', `/v1/messages/${target.id}`, undefined)
    if (response?.status !== 202) {
      note(`${kind} ${response?.status ?? 'no answer'}`)
      return
    }
    current.changes++
    changeTasks.set(response.body.taskId, kind)
    const task = await waitTask(target.sender, response.body.taskId)
    if (kind === 'edit' && task?.state === 'completed') editable.push(target)
  }
  async function read (): Promise<void> {
    const room = pick(rooms)
    const reader = pick(room.members)
    const route = Math.random() < 0.7 ? `/v1/rooms/${room.id}/messages?limit=50` : Math.random() < 0.5 ? '/v1/users?limit=50' : `/v1/messages/${editable.at(-1)?.id ?? 1}`
    const response = await clients[apiFor(reader.api)]!.request('GET', route, { token: reader.token }).catch(() => undefined)
    current.reads++
    if (response === undefined || (response.status !== 200 && response.status !== 404)) {
      current.readErrors++
      note(`read ${route.split('?')[0]} ${response?.status ?? 'no answer'}`)
    }
  }
  const members = new Set<number>()
  const busy = new Set<number>()
  async function churn (): Promise<void> {
    // One move of a user at a time: a leave sent before its join was answered would find nothing to leave.
    const user = pick(churners)
    if (busy.has(user.id)) return
    busy.add(user.id)
    try {
      await moveOne(user)
    } finally {
      busy.delete(user.id)
    }
  }
  async function moveOne (user: SoakUser): Promise<void> {
    const joining = !members.has(user.id)
    const response = await clients[apiFor(user.api)]!.request(joining ? 'PUT' : 'DELETE', `/v1/rooms/${lobby.id}/members/me`, { token: user.token }).catch(() => undefined)
    if (response !== undefined && response.status < 300) {
      if (joining) members.add(user.id)
      else members.delete(user.id)
      current.joinsLeaves++
    } else note(`${joining ? 'join' : 'leave'} ${response?.status ?? 'no answer'}`)
  }

  // --- Samples ---------------------------------------------------------------------------------------------------
  const samples: Sample[] = []
  async function processMemory (slot: Slot<PigeonProcess>): Promise<{ name: string, rssMiB: number | null, heapMiB: number | null }> {
    const text = slot.up ? await fetch(slot.metricsUrl).then(async (r) => await r.text(), () => '') : ''
    const read = (metric: string) => {
      const match = new RegExp(`^${metric} ([\\d.e+]+)`, 'm').exec(text)
      return match === null ? null : Number(match[1]) / 2 ** 20
    }
    return { name: slot.name, rssMiB: read('process_resident_memory_bytes'), heapMiB: read('nodejs_heap_size_used_bytes') }
  }
  async function redisFigures () {
    const keys: Record<string, number> = {}
    const withoutTtl: Record<string, number> = {}
    let bytes = 0
    for (const pattern of [`${config.REDIS_PREFIX}:*`, `{${config.REDIS_PREFIX}:*`]) {
      for await (const batch of redis.scanStream({ match: pattern, count: 1000 })) {
        const names = batch as string[]
        if (names.length === 0) continue
        const pipeline = redis.pipeline()
        for (const key of names) pipeline.pttl(key).memory('USAGE', key)
        const answers = (await pipeline.exec()) ?? []
        names.forEach((key, i) => {
          const kind = keyKind(key, config.REDIS_PREFIX)
          keys[kind] = (keys[kind] ?? 0) + 1
          if (answers[2 * i]?.[1] === -1) withoutTtl[kind] = (withoutTtl[kind] ?? 0) + 1
          bytes += Number(answers[2 * i + 1]?.[1] ?? 0)
        })
      }
    }
    const info = await redis.info('memory')
    const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0)
    return { deploymentMiB: bytes / 2 ** 20, serverUsedMiB: used / 2 ** 20, keys, withoutTtl }
  }
  async function postgresFigures () {
    const { rows: tables } = await sql<{ name: string, total: string, table: string, indexes: string, rows: string }>`
      select c.relname as name, pg_total_relation_size(c.oid) as total, pg_relation_size(c.oid) as table,
        pg_indexes_size(c.oid) as indexes, coalesce(s.n_live_tup, 0) as rows
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_stat_user_tables s on s.relid = c.oid
      where n.nspname = 'public' and c.relkind = 'r' order by c.relname`.execute(db)
    const { rows: connections } = await sql<{ state: string | null, n: string }>`
      select state, count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by state`.execute(db)
    const { rows: [counts] } = await sql<{ messages: string, tasks: string, read_marks: string }>`
      select (select count(*) from messages) as messages, (select count(*) from tasks) as tasks, (select count(*) from read_marks) as read_marks`.execute(db)
    return {
      tables: Object.fromEntries(tables.map((t) => [t.name, { totalKiB: Number(t.total) / 1024, tableKiB: Number(t.table) / 1024, indexKiB: Number(t.indexes) / 1024, liveRows: Number(t.rows) }])),
      rows: { messages: Number(counts?.messages), tasks: Number(counts?.tasks), readMarks: Number(counts?.read_marks) },
      connections: Object.fromEntries(connections.map((c) => [c.state ?? 'none', Number(c.n)]))
    }
  }
  async function takeSample (): Promise<void> {
    const seen = current
    current = freshWindow()
    const sample: Sample = {
      minute: (now() - loadStart) / 60_000,
      processes: await Promise.all([...apis, ...workers].map(processMemory)),
      redis: await redisFigures(),
      postgres: await postgresFigures(),
      bullmq: Object.fromEntries(await Promise.all(queues.map(async (queue) => [queue.name, await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized')] as const))),
      load: {
        sendsAccepted: seen.sendsAccepted,
        sendsRefused: seen.sendsRefused,
        sendErrors: seen.sendErrors,
        changes: seen.changes,
        reads: seen.reads,
        readErrors: seen.readErrors,
        joinsLeaves: seen.joinsLeaves,
        reconnects: seen.reconnects,
        deliveries: seen.deliveries.length,
        deliveredP50: percentile(seen.deliveries, 50),
        deliveredP99: percentile(seen.deliveries, 99),
        deliveredP99ByKind: Object.fromEntries(Object.entries(seen.byKind).map(([kind, ms]) => [kind, percentile(ms, 99)])),
        acceptP99: percentile(seen.acceptMs, 99),
        unexpected: seen.unexpected
      },
      loadAverage: loadavg()[0] ?? 0
    }
    samples.push(sample)
    await appendFile(jsonl, JSON.stringify({ type: 'sample', ...sample }) + '\n')
    const mem = sample.processes.map((p) => `${p.name} ${p.rssMiB?.toFixed(0) ?? '-'}/${p.heapMiB?.toFixed(0) ?? '-'}`).join(', ')
    progress(`min ${sample.minute.toFixed(1)}: ${seen.sendsAccepted} sends, ${seen.deliveries.length} deliveries, p50/p99 ${sample.load.deliveredP50.toFixed(0)}/${sample.load.deliveredP99.toFixed(0)} ms; RSS/heap MiB ${mem}; redis ${sample.redis.deploymentMiB.toFixed(1)} MiB; read_marks ${sample.postgres.rows.readMarks}; load ${sample.loadAverage.toFixed(1)}`)
  }

  // --- The run -------------------------------------------------------------------------------------------------
  loadStart = now()
  const endAt = loadStart + minutes * 60_000
  const inFlight = new Set<Promise<void>>()
  const track = (work: Promise<void>) => {
    inFlight.add(work)
    work.catch((error: unknown) => note(`load error: ${String(error)}`)).finally(() => inFlight.delete(work))
  }
  const sampler = (async () => {
    for (let next = loadStart + settings.sampleSeconds * 1000; next <= endAt + 1; next += settings.sampleSeconds * 1000) {
      await sleep(Math.max(0, next - now()))
      await takeSample()
    }
  })()
  const faults = (async () => {
    if (!settings.faults) return
    for (let n = 1; loadStart + n * settings.faultEveryMinutes * 60_000 < endAt - 30_000; n++) {
      await sleep(Math.max(0, loadStart + n * settings.faultEveryMinutes * 60_000 - now()))
      const i = (n - 1) % 2
      faulting = true
      progress(`fault ${n}: restarting api-${i + 1} and worker-${i + 1}`)
      const [api, worker] = [apis[i]!, workers[i]!]
      api.up = false
      worker.up = false
      await Promise.all([api.process.stop(), worker.process.stop()])
      const restarted = await spawnApi(api.name)
      // Its client first, then taken back into the rotation: nothing is sent to the old address after this.
      restarted.up = false
      apis[i] = restarted
      clients[i]!.close()
      clients[i] = createClient(restarted.process.url)
      restarted.up = true
      workers[i] = await spawnWorker(worker.name)
      faulting = false
    }
  })()
  // Open loop: every kind of request at its own steady rate, whatever the answers take.
  const ticker = (async () => {
    const perSecond = { send: settings.rate, edit: settings.rate * 0.03, delete: settings.rate * 0.02, read: settings.rate * 0.1, churn: 0.5 }
    const due = { send: 0, edit: 0, delete: 0, read: 0, churn: 0 }
    let last = now()
    while (now() < endAt) {
      await sleep(20)
      const t = now()
      const seconds = (t - last) / 1000
      last = t
      for (const kind of Object.keys(due) as Array<keyof typeof due>) {
        due[kind] += perSecond[kind] * seconds
        for (; due[kind] >= 1; due[kind]--) {
          track(kind === 'send' ? send() : kind === 'edit' ? changeOne('edit') : kind === 'delete' ? changeOne('delete') : kind === 'read' ? read() : churn())
        }
      }
    }
  })()
  await ticker
  await Promise.all([sampler, faults])
  await Promise.all(inFlight)
  progress(`load over: ${accepted.size} sends accepted, ${changeTasks.size} edits and deletes; draining`)

  // --- The end-of-run check --------------------------------------------------------------------------------------
  const settleBy = Date.now() + 120_000
  const unfinished = async () => Number((await sql<{ n: string }>`select count(*) as n from tasks where state in ('queued', 'active')`.execute(db)).rows[0]?.n)
  while (await unfinished() > 0 && Date.now() < settleBy) await sleep(500)
  const messages = await db.selectFrom('messages').select(['id', 'room_id', 'seq', 'sender_id', 'text', 'deleted_at', 'task_id']).execute()
  const expectedOf = (user: SoakUser) => messages.filter((m) => user.rooms.includes(m.room_id) && m.sender_id !== user.id && m.deleted_at === null)
  // Consumers catch up: every live message of others in their rooms held, and every held one as the database has it.
  const byId = new Map(messages.map((m) => [m.id, m]))
  const caughtUp = (user: SoakUser) => expectedOf(user).every((m) => user.have.has(m.id)) &&
    [...user.have].every(([id, held]) => !user.rooms.includes(held.roomId) || byId.get(id) === undefined || (held.text === byId.get(id)!.text && held.deleted === (byId.get(id)!.deleted_at !== null)))
  while (!users.every(caughtUp) && Date.now() < settleBy) await sleep(500)
  running.abort()
  clients.forEach((client) => client.close())
  await Promise.all(consuming)

  const check = await endOfRunCheck({ db, users, messages, unfinished: await unfinished() })
  const verdict = judge(samples, check)
  await appendFile(jsonl, JSON.stringify({ type: 'summary', settings, check, verdict }) + '\n')
  await writeFile(`${base}.svg`, plot(samples, settings))
  printTable(samples)
  const unexpected = [...new Set(samples.flatMap((s) => s.load.unexpected))]
  if (unexpected.length > 0) console.log(`\nUnexpected answers outside fault windows (first of each): ${unexpected.join('; ')}`)
  console.log('\nEnd-of-run check:')
  for (const line of check.lines) console.log(`  ${line}`)
  console.log('\nVerdict:')
  for (const line of verdict.lines) console.log(`  ${line}`)
  console.log(`\n${verdict.pass && check.pass ? 'PASS' : 'FAIL'}: samples in ${jsonl}, plot in ${base}.svg`)
  if (!(verdict.pass && check.pass)) process.exitCode = 1
}

interface Sample {
  minute: number
  processes: Array<{ name: string, rssMiB: number | null, heapMiB: number | null }>
  redis: { deploymentMiB: number, serverUsedMiB: number, keys: Record<string, number>, withoutTtl: Record<string, number> }
  postgres: {
    tables: Record<string, { totalKiB: number, tableKiB: number, indexKiB: number, liveRows: number }>
    rows: { messages: number, tasks: number, readMarks: number }
    connections: Record<string, number>
  }
  bullmq: Record<string, Record<string, number>>
  load: {
    sendsAccepted: number
    sendsRefused: number
    sendErrors: number
    changes: number
    reads: number
    readErrors: number
    joinsLeaves: number
    reconnects: number
    deliveries: number
    deliveredP50: number
    deliveredP99: number
    deliveredP99ByKind: Record<string, number>
    acceptP99: number
    unexpected: string[]
  }
  loadAverage: number
}

/** What a Redis key is, without its ids: `tasks:job`, `tasks:completed`, `rate-limit:sends-burst`, `ended-login`. */
function keyKind (key: string, prefix: string): string {
  const queue = /^\{[^}]*:([^}]+)\}:[^:]+:(.*)$/.exec(key)
  if (queue !== null) {
    const [, name, rest = ''] = queue
    const first = rest.split(':')[0] ?? ''
    const isJob = /^[0-9a-f-]{36}$/.test(first) || /^\d+$/.test(first) || first.startsWith('repeat')
    const suffix = rest.split(':').at(-1) ?? ''
    return `${name}:${isJob ? `job${rest.includes(':') && /^[a-z]+$/.test(suffix) ? `:${suffix}` : ''}` : first}`
  }
  const parts = key.slice(prefix.length + 1).split(':')
  return parts[0] === 'rate-limit' ? `rate-limit:${parts[1]}` : parts.slice(0, 2).filter((part) => !/\d/.test(part)).join(':') || (parts[0] ?? '?')
}

async function endOfRunCheck ({ db, users, messages, unfinished }: {
  db: ReturnType<typeof createDb>
  users: SoakUser[]
  messages: Array<{ id: number, room_id: number, seq: number, sender_id: number | null, text: string | null, deleted_at: Date | null, task_id: string }>
  unfinished: number
}) {
  const lines: string[] = []
  let pass = true
  const fail = (ok: boolean, line: string) => {
    if (!ok) pass = false
    lines.push(`${ok ? 'ok  ' : 'FAIL'} ${line}`)
  }
  const byTask = new Map<string, number>()
  for (const message of messages) byTask.set(message.task_id, (byTask.get(message.task_id) ?? 0) + 1)
  const storedOnce = [...accepted.keys()].filter((taskId) => byTask.get(taskId) === 1).length
  fail(storedOnce === accepted.size, `accepted sends stored exactly once: ${storedOnce} of ${accepted.size} (${messages.length} messages in all; ${messages.length - storedOnce} from sends whose 202 never arrived)`)
  fail(unfinished === 0, `tasks left unfinished: ${unfinished}`)
  const { rows: failed } = await sql<{ kind: string, error_code: string, n: string }>`
    select kind, error_code, count(*) as n from tasks where state = 'failed' group by 1, 2`.execute(db)
  fail(failed.length === 0, `tasks failed: ${failed.length === 0 ? 'none' : failed.map((f) => `${f.kind} ${f.error_code} ×${f.n}`).join(', ')}`)
  const { rows: [changes] } = await sql<{ edits: string, deletes: string }>`
    select count(*) filter (where kind = 'edit-message' and state = 'completed') as edits,
      count(*) filter (where kind = 'delete-message' and state = 'completed') as deletes from tasks`.execute(db)
  lines.push(`     edits applied: ${changes?.edits}, deletes applied: ${changes?.deletes}`)

  const byId = new Map(messages.map((m) => [m.id, m]))
  let missing = 0
  let expected = 0
  let stale = 0
  let duplicates = 0
  let outOfOrder = 0
  let unknownChanges = 0
  for (const user of users) {
    for (const message of messages) {
      if (!user.rooms.includes(message.room_id) || message.sender_id === user.id || message.deleted_at !== null) continue
      expected++
      if (!user.have.has(message.id)) missing++
    }
    for (const [id, held] of user.have) {
      // Churn users stop hearing of a room's changes when they leave it: only rooms held throughout are checked.
      if (!user.rooms.includes(held.roomId)) continue
      const stored = byId.get(id)
      if (stored === undefined || held.text !== stored.text || held.deleted !== (stored.deleted_at !== null)) stale++
    }
    duplicates += user.duplicates
    outOfOrder += user.outOfOrder
    unknownChanges += user.unknownChanges
  }
  fail(missing === 0, `deliveries to members who were connected throughout: ${expected - missing} of ${expected} (live messages of others in their rooms)`)
  fail(duplicates === 0, `messages delivered twice: ${duplicates}`)
  fail(outOfOrder === 0, `deliveries out of seq order within a room: ${outOfOrder}`)
  fail(stale === 0, `held messages that differ from the database after edits and deletes: ${stale}`)
  fail(unknownChanges === 0, `changes of messages the client did not hold: ${unknownChanges}`)
  return { pass, lines, accepted: accepted.size, stored: messages.length, expected, missing, duplicates, outOfOrder, stale }
}

/** Least-squares slope of `ys` against `xs` (per unit of x). */
function slope (xs: number[], ys: number[]): number {
  const n = xs.length
  if (n < 2) return 0
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] as number) - my), 0) / sxx
}

/**
 * The thresholds, and why:
 * - heap used: a slope under 0.5 MiB a minute over the second half. At the default 20 sends/s (each delivered to
 *   about seven members) that is about 440 bytes per send, 60 per delivery: a leak of anything kept per message or
 *   per delivery (a map entry, a closure) shows; GC's saw-tooth, sampled once a minute over thirty minutes, moves a
 *   fitted slope by far less.
 * - RSS: under 1 MiB a minute (it also holds what the allocator has not returned yet).
 * - Redis (this deployment's keys): the mean of the last quarter within 1.2× of the first quarter after the warm-up. Stores that
 *   grow with the data sent would grow by about half from one to the other; bounded ones (retention by count, TTLs)
 *   stay within noise.
 * - send → delivered p99 of the last window within 1.5× of the first (windows of ten minutes, a sixth of short runs).
 * - read_marks: growing slower than messages once the run is twice the merge's keep time (before that, nothing
 *   has been merged into one row per member yet).
 * Memory and Redis are judged after a warm-up of ten minutes (the second half of a longer run): until then BullMQ's
 * retention is still filling (1,000 completed jobs and about 10,000 events per queue take minutes at 20 sends/s),
 * and pools and the JIT settle. Redis's first window is the quarter of the run that starts after the warm-up (the
 * second quarter of a run of 40 minutes or more). A run asked for less than twice the warm-up prints its figures
 * without judging them. With `--faults` each process's memory is printed, not judged: no process lives through a
 * warm-up when one of each kind restarts every few minutes, so a slope fitted over its samples measures the restarts.
 */
function judge (samples: Sample[], check: { pass: boolean }) {
  const lines: string[] = []
  let pass = true
  const verdict = (ok: boolean, line: string) => {
    if (!ok) pass = false
    lines.push(`${ok ? 'ok  ' : 'FAIL'} ${line}`)
  }
  const total = samples.at(-1)?.minute ?? 0
  const warmUpMinutes = 10
  const secondHalf = samples.filter((s) => s.minute >= Math.max(total / 2, warmUpMinutes))
  // The length asked, not the last sample's minute: that one is taken a moment before the end (19.99 of 20).
  const judged = settings.minutes >= 2 * warmUpMinutes
  const verdictIfLong = (ok: boolean, line: string) => judged ? verdict(ok, line) : lines.push(`--   ${line}: not judged, the run is shorter than ${2 * warmUpMinutes} min`)
  const verdictIfSettled = (ok: boolean, line: string) => settings.faults
    ? lines.push(`--   ${line}: not judged, processes restart every ${settings.faultEveryMinutes.toFixed(1)} min`)
    : verdictIfLong(ok, line)
  const names = samples[0]?.processes.map((p) => p.name) ?? []
  const fitted = judged ? secondHalf : samples.filter((s) => s.minute >= total / 2)
  for (const name of names) {
    const points = fitted.map((s) => ({ x: s.minute, p: s.processes.find((p) => p.name === name) }))
    const heap = points.filter((q) => q.p?.heapMiB != null)
    const rss = points.filter((q) => q.p?.rssMiB != null)
    const heapSlope = slope(heap.map((q) => q.x), heap.map((q) => q.p!.heapMiB!))
    const rssSlope = slope(rss.map((q) => q.x), rss.map((q) => q.p!.rssMiB!))
    verdictIfSettled(heapSlope < 0.5, `${name}: heap used slope over the second half ${heapSlope.toFixed(2)} MiB/min (threshold 0.5)`)
    verdictIfSettled(rssSlope < 1, `${name}: RSS slope over the second half ${rssSlope.toFixed(2)} MiB/min (threshold 1)`)
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
  const firstFrom = Math.max(total / 4, warmUpMinutes)
  const windows = { first: `minutes ${firstFrom.toFixed(0)}–${(firstFrom + total / 4).toFixed(0)}`, last: `the last ${(total / 4).toFixed(0)}` }
  const quarterMean = (from: number, value: (s: Sample) => number) => mean(samples.filter((s) => s.minute > from && s.minute <= from + total / 4).map(value))
  const keyCount = (s: Sample) => Object.values(s.redis.keys).reduce((a, b) => a + b, 0)
  const [mibFirst, mibLast] = [quarterMean(firstFrom, (s) => s.redis.deploymentMiB), quarterMean(total * 0.75, (s) => s.redis.deploymentMiB)]
  verdictIfLong(mibLast <= mibFirst * 1.2, `Redis, this deployment's keys: ${mibFirst.toFixed(2)} MiB in ${windows.first}, ${mibLast.toFixed(2)} MiB in ${windows.last} (threshold 1.2×)`)
  const [keysFirst, keysLast] = [quarterMean(firstFrom, keyCount), quarterMean(total * 0.75, keyCount)]
  verdictIfLong(keysLast <= keysFirst * 1.2, `Redis keys: ${keysFirst.toFixed(0)} in ${windows.first}, ${keysLast.toFixed(0)} in ${windows.last} (threshold 1.2×)`)
  const noTtl = samples.at(-1)?.redis.withoutTtl ?? {}
  lines.push(`     keys without a TTL at the end, by kind: ${JSON.stringify(noTtl)}`)
  const [first, last] = [percentile(firstWindowMs, 99), percentile(lastWindowMs, 99)]
  verdict(last <= first * 1.5, `send → delivered p99: ${first.toFixed(0)} ms in the first window, ${last.toFixed(0)} ms in the last (threshold 1.5×)`)
  const end = samples.at(-1)
  const mid = samples[Math.floor(samples.length / 2)]
  if (end !== undefined && mid !== undefined) {
    const rowsPerMessage = (s: Sample) => (s.postgres.tables.messages?.totalKiB ?? 0) / Math.max(1, s.postgres.rows.messages)
    lines.push(`     messages: ${mid.postgres.rows.messages} rows at half time, ${end.postgres.rows.messages} at the end; ${rowsPerMessage(mid).toFixed(2)} and ${rowsPerMessage(end).toFixed(2)} KiB per row (table and indexes)`)
    const readMarksGrowth = end.postgres.rows.readMarks / Math.max(1, mid.postgres.rows.readMarks)
    const sendGrowth = end.postgres.rows.messages / Math.max(1, mid.postgres.rows.messages)
    const readMarksLine = `read_marks: ${mid.postgres.rows.readMarks} rows at half time, ${end.postgres.rows.readMarks} at the end (×${readMarksGrowth.toFixed(2)}; messages ×${sendGrowth.toFixed(2)}; threshold: under 0.8× the messages' growth)`
    if (total >= 2 * settings.readMarksKeepSeconds / 60) verdict(readMarksGrowth < sendGrowth * 0.8, readMarksLine)
    else lines.push(`--   ${readMarksLine}: not judged, the run is shorter than twice the merge's keep time`)
  }
  return { pass: pass && check.pass, lines, firstP99: first, lastP99: last }
}

function printTable (samples: Sample[]): void {
  const header = ['min', 'sends', 'deliv', 'p50 ms', 'p99 ms', ...(samples[0]?.processes.map((p) => `${p.name} rss/heap`) ?? []), 'redis MiB', 'keys', 'read_marks', 'messages', 'pg conns', 'tasks done/failed', 'load']
  const rows = samples.map((s) => [
    s.minute.toFixed(1), String(s.load.sendsAccepted), String(s.load.deliveries), s.load.deliveredP50.toFixed(0), s.load.deliveredP99.toFixed(0),
    ...s.processes.map((p) => `${p.rssMiB?.toFixed(0) ?? '-'}/${p.heapMiB?.toFixed(0) ?? '-'}`),
    s.redis.deploymentMiB.toFixed(2), String(Object.values(s.redis.keys).reduce((a, b) => a + b, 0)), String(s.postgres.rows.readMarks),
    String(s.postgres.rows.messages), String(Object.values(s.postgres.connections).reduce((a, b) => a + b, 0)),
    `${s.bullmq.tasks?.completed ?? '-'}/${s.bullmq.tasks?.failed ?? '-'}`, s.loadAverage.toFixed(1)
  ])
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]?.length ?? 0)))
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ')
  console.log('')
  console.log(line(header))
  for (const row of rows) console.log(line(row))
}

/** Three panels, minutes across: each process's RSS and heap, this deployment's Redis memory, delivery p50/p99. */
function plot (samples: Sample[], run: typeof settings): string {
  const width = 900
  const panel = 220
  const margin = { left: 70, right: 170, top: 30, bottom: 30 }
  const x = (minute: number) => margin.left + (minute / Math.max(1e-9, run.minutes)) * (width - margin.left - margin.right)
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']
  const parts: string[] = []
  function drawPanel (index: number, title: string, unit: string, series: Array<{ label: string, points: Array<[number, number]>, dashed?: boolean }>): void {
    const top = index * (panel + margin.top + margin.bottom) + margin.top
    const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite)
    const max = Math.max(1e-9, ...values) * 1.1
    const y = (value: number) => top + panel - (value / max) * panel
    parts.push(`<text x="${margin.left}" y="${top - 10}" font-weight="bold">${title}</text>`)
    parts.push(`<rect x="${margin.left}" y="${top}" width="${width - margin.left - margin.right}" height="${panel}" fill="none" stroke="#999"/>`)
    for (const fraction of [0, 0.5, 1]) {
      parts.push(`<text x="${margin.left - 6}" y="${y(max * fraction / 1.1) + 4}" text-anchor="end">${(max * fraction / 1.1).toFixed(max < 10 ? 1 : 0)} ${unit}</text>`)
    }
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      parts.push(`<text x="${x(run.minutes * fraction)}" y="${top + panel + 16}" text-anchor="middle">${(run.minutes * fraction).toFixed(run.minutes < 10 ? 1 : 0)} min</text>`)
    }
    series.forEach((s, i) => {
      const colour = colours[i % colours.length]
      const points = s.points.filter(([, v]) => Number.isFinite(v)).map(([m, v]) => `${x(m).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
      parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5"${s.dashed === true ? ' stroke-dasharray="4 3"' : ''} points="${points}"/>`)
      parts.push(`<text x="${width - margin.right + 8}" y="${top + 14 + i * 16}" fill="${colour}">${s.label}</text>`)
    })
  }
  const names = samples[0]?.processes.map((p) => p.name) ?? []
  drawPanel(0, 'Memory of each process', 'MiB', names.flatMap((name) => [
    { label: `${name} RSS`, points: samples.map((s) => [s.minute, s.processes.find((p) => p.name === name)?.rssMiB ?? Number.NaN] as [number, number]) },
    { label: `${name} heap`, dashed: true, points: samples.map((s) => [s.minute, s.processes.find((p) => p.name === name)?.heapMiB ?? Number.NaN] as [number, number]) }
  ]))
  drawPanel(1, 'Redis: memory of this deployment\'s keys', 'MiB', [
    { label: 'keys\' memory', points: samples.map((s) => [s.minute, s.redis.deploymentMiB]) }
  ])
  drawPanel(2, 'Send → delivered, per sample', 'ms', [
    { label: 'p99', points: samples.map((s) => [s.minute, s.load.deliveredP99]) },
    { label: 'p50', dashed: true, points: samples.map((s) => [s.minute, s.load.deliveredP50]) }
  ])
  const height = 3 * (panel + margin.top + margin.bottom)
  const title = `Pigeon soak: ${run.minutes} min at ${run.rate} sends/s${run.faults ? `, an API and a worker restarted every ${run.faultEveryMinutes.toFixed(1)} min` : ''}`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${margin.left}" y="14" font-size="13">${title}</text>
<g transform="translate(0, 20)">
${parts.join('\n')}
</g>
</svg>
`
}

await runBench(main, cleanup)
