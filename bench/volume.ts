/**
 * The path beyond one primary: what a growing `messages` table costs. Seeds the volume rooms (seeds/seed-volume.ts:
 * 20 rooms of 37 % down to 1.7 % of the messages, user_1 and volume_1 in all of them) up to each size in turn, and
 * at each size measures:
 *
 * - the seed's rate, and the sizes of `messages` (heap, TOAST) and of each of its indexes, per million messages;
 * - the reads, through the real queries of core/ (no HTTP): a room's history (newest 50, a page in the middle, the
 *   oldest page) in the biggest room, the unseen feed's first page (100) for a reader who has read nothing and for one
 *   who is caught up, the rooms list (50, with unread counts) for both, and search across the reader's rooms for a
 *   common and a rare word; p50/p99 as the client sees them (one at a time), and Postgres's own execution time and
 *   buffers from EXPLAIN (ANALYZE, BUFFERS) of the same statement;
 * - messages per second into the primary through the worker's store (`persistMessages`: tasks taken, rooms locked,
 *   seqs taken, messages inserted with their search vectors, tasks completed; one transaction per batch of 64, two
 *   writers on different rooms, as two worker processes would), also on the empty table before the first size.
 *
 *   npm run bench:volume -- [--sizes=1000000,10000000] [--samples=50] [--sends=20000] [--seed-priority=low]
 *
 * Runs in a database of its own (migrated, dropped at the end). The seed's Postgres backends (it writes on two
 * connections) are reniced to 19 when the bench runs as root (the machine is shared); run the bench itself under
 * `nice -n 19` too. On a machine of its own, `--seed-priority=normal` leaves them at the priority they have.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { createDb, type Db } from '../core/db/connect.js'
import { taskKinds, type Database } from '../core/db/schema.js'
import { persistMessages, readRoomHistoryJson, type SendToStore } from '../core/messages.js'
import { markSeenUpTo } from '../core/read-state.js'
import { listRoomsForMember } from '../core/rooms.js'
import { searchMessages } from '../core/search.js'
import { createTasks } from '../core/tasks.js'
import { readUnseenPage } from '../core/unseen-feed.js'
import { findUserByUsername } from '../core/users.js'
import { testConfig } from '../harness/test-config.js'
import { seedDemo } from '../seeds/seed-demo.js'
import { seedVolume, volumeRoomCount, volumeRoomName } from '../seeds/seed-volume.js'
import { percentile, progress, runBench } from './support.js'

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    samples: { type: 'string', default: '50' },
    sends: { type: 'string', default: '20000' },
    'seed-priority': { type: 'string', default: 'low' }
  }
})
const settings = { sizes: args.sizes.split(',').map(Number), samples: Number(args.samples), sends: Number(args.sends), seedPriority: args['seed-priority'] }
if (!settings.sizes.every((n) => Number.isSafeInteger(n) && n > 0) || !(settings.samples > 0) || !(settings.sends > 0) || !['low', 'normal'].includes(settings.seedPriority)) {
  console.error('usage: npm run bench:volume -- [--sizes=1000000,10000000] [--samples=50] [--sends=20000] [--seed-priority=low|normal]')
  process.exit(2)
}
/** A query is sampled `samples` times, or for this long if that comes first (a slow one still gets 3 samples). */
const sampleSeconds = 15

interface Relation { name: string, bytes: number }
interface Read { name: string, samples: number, p50Ms: number, p99Ms: number, postgresMs: number, jitMs: number, sharedHit: number, sharedRead: number, rows: number, explain: unknown }
interface Writes { messages: number, seconds: number, perSecond: number }
interface Step {
  messages: number
  seed: { added: number, seconds: number, perSecond: number }
  relations: Relation[]
  reads: Read[]
  writes: Writes
  loadAverage: number[]
}

/** The statements a core function sends, caught on their way to Postgres, so the bench can EXPLAIN the same ones. */
function capturingDb (databaseUrl: string): { db: Db, last: () => CompiledQuery, destroy: () => Promise<void> } {
  let captured: CompiledQuery | undefined
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }),
    log: (event) => { if (event.level === 'query') captured = event.query }
  })
  return {
    db,
    last: () => { if (captured === undefined) throw new Error('no query yet'); return captured },
    destroy: async () => await db.destroy()
  }
}

/** Lowers a Postgres backend's CPU priority when allowed (as root); says so either way. */
function renice (pid: number): void {
  try {
    execFileSync('renice', ['-n', '19', '-p', String(pid)], { stdio: 'ignore' })
    progress(`seeding backend ${pid} reniced to 19`)
  } catch {
    progress(`could not renice backend ${pid} (not root?): it runs at normal priority`)
  }
}

/** The seed's connections, by their application name: their backends are the ones reniced. */
const seedApplicationName = 'pigeon-bench-volume-seed'

/**
 * Keeps the seed's Postgres backends at low priority until the returned function is called: looked up every 2 s,
 * since its pool opens a connection whenever it needs one.
 */
function keepSeedLowPriority (db: Db): () => void {
  const lowered = new Set<number>()
  const lower = async () => {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where application_name = ${seedApplicationName}`.execute(db)
    for (const { pid } of rows.filter((row) => !lowered.has(row.pid))) {
      renice(pid)
      lowered.add(pid)
    }
  }
  const timer = setInterval(() => { lower().catch(() => {}) }, 2000)
  return () => clearInterval(timer)
}

/** `messages`, its TOAST table and each of its indexes, in bytes. */
async function relationSizes (db: Db): Promise<Relation[]> {
  const { rows } = await sql<{ name: string, bytes: string }>`
    select 'messages (heap)' as name, pg_relation_size('messages') as bytes
    union all select 'messages (TOAST)', coalesce(pg_total_relation_size(reltoastrelid), 0) from pg_class where oid = 'messages'::regclass
    union all (select i.indexrelid::regclass::text, pg_relation_size(i.indexrelid) from pg_index i
      where i.indrelid = 'messages'::regclass order by 1)`.execute(db)
  return rows.map((row) => ({ name: row.name, bytes: Number(row.bytes) }))
}

interface Plan { 'Execution Time': number, JIT?: { Timing: { Total: number } }, Plan: { 'Shared Hit Blocks': number, 'Shared Read Blocks': number, 'Actual Rows': number } }

/**
 * Runs `read` (one statement, through the capturing db) until `samples` or `sampleSeconds`, after one warm-up run;
 * then EXPLAIN (ANALYZE, BUFFERS) of the statement it sent.
 */
async function measureRead (capture: ReturnType<typeof capturingDb>, name: string, read: (db: Db) => Promise<unknown>): Promise<Read> {
  await read(capture.db)
  const latencies: number[] = []
  const until = performance.now() + sampleSeconds * 1000
  while (latencies.length < settings.samples && (latencies.length < 3 || performance.now() < until)) {
    const t0 = performance.now()
    await read(capture.db)
    latencies.push(performance.now() - t0)
  }
  const query = capture.last()
  const explained = await capture.db.executeQuery<{ 'QUERY PLAN': Plan[] }>(
    CompiledQuery.raw(`explain (analyze, buffers, format json) ${query.sql}`, [...query.parameters]))
  const plan = explained.rows[0]?.['QUERY PLAN'][0]
  const read0: Read = {
    name,
    samples: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    postgresMs: plan?.['Execution Time'] ?? Number.NaN,
    // Compiling the plan (JIT), part of the execution time: Postgres compiles when the plan's estimated cost is high.
    jitMs: plan?.JIT?.Timing.Total ?? 0,
    sharedHit: plan?.Plan['Shared Hit Blocks'] ?? 0,
    sharedRead: plan?.Plan['Shared Read Blocks'] ?? 0,
    rows: plan?.Plan['Actual Rows'] ?? 0,
    explain: plan
  }
  progress(`  ${name}: p50 ${read0.p50Ms.toFixed(1)} ms, p99 ${read0.p99Ms.toFixed(1)} ms, Postgres ${read0.postgresMs.toFixed(2)} ms, of which JIT ${read0.jitMs.toFixed(1)} ms (${read0.samples} samples)`)
  return read0
}

/**
 * `settings.sends` messages stored through the worker's store: their tasks recorded first (as the API does), then
 * two writers each storing batches of 64 (one transaction each), into the volume rooms at random.
 */
async function measureWrites (db: Db, round: string, user: { id: number }, roomIds: number[]): Promise<Writes> {
  const sends: SendToStore[] = Array.from({ length: settings.sends }, (_, i) => ({
    // Random, as the API's are: each insert lands anywhere in the task id indexes, not at their end.
    taskId: randomUUID(),
    roomId: roomIds[i % roomIds.length] as number,
    senderId: user.id,
    text: `deploy the build to staging after lunch, message ${i} of round ${round}`
  }))
  for (let from = 0; from < sends.length; from += 1000) {
    await createTasks(db, sends.slice(from, from + 1000).map((send) => ({
      id: send.taskId,
      kind: taskKinds.sendMessage,
      ownerId: send.senderId,
      roomId: send.roomId,
      payload: { roomId: send.roomId, senderId: send.senderId, text: send.text, requestId: send.taskId }
    })))
  }
  // Each writer stores into its own half of the rooms (sends alternate between rooms, so by odd and even room
  // index), as two workers busy with different rooms would: they do not wait for each other's room locks.
  const halves = [0, 1].map((half) => sends.filter((_, i) => i % roomIds.length % 2 === half))
  let stored = 0
  const started = performance.now()
  await Promise.all(halves.map(async (half) => {
    for (let from = 0; from < half.length; from += 64) {
      const outcomes = await persistMessages(db, half.slice(from, from + 64))
      stored += outcomes.filter((outcome) => outcome.kind === 'stored' && outcome.created).length
    }
  }))
  const seconds = (performance.now() - started) / 1000
  if (stored !== sends.length) throw new Error(`stored ${stored} of ${sends.length}`)
  progress(`  store: ${stored} messages in ${seconds.toFixed(1)} s, ${(stored / seconds).toFixed(0)}/s`)
  return { messages: stored, seconds, perSecond: stored / seconds }
}

async function main (cleanup: Array<() => unknown>): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { LOG_LEVEL: 'warn' })
  const db = createDb(config.DATABASE_URL, { max: 2 })
  cleanup.push(() => db.destroy())
  const seedUrl = new URL(config.DATABASE_URL)
  seedUrl.searchParams.set('application_name', seedApplicationName)
  // As many connections as the seed has writers.
  const seedDb = createDb(seedUrl.toString(), { max: 2 })
  cleanup.push(() => seedDb.destroy())
  const capture = capturingDb(config.DATABASE_URL)
  cleanup.push(() => capture.destroy())

  await seedDemo(seedDb)
  // The volume users and rooms first, so the store can be measured on the empty table.
  await seedVolume(seedDb, { users: 200, messages: 0, progress: { start: () => {}, advance: () => {}, stop: () => {} } })
  const [reader, caughtUp] = await Promise.all(['user_1', 'volume_1'].map(async (name) => await findUserByUsername(db, name)))
  if (reader === undefined || caughtUp === undefined) throw new Error('the seed made no user_1 or volume_1')
  const rooms = await db.selectFrom('rooms').select(['id', 'name']).where('name', 'in', Array.from({ length: volumeRoomCount }, (_, r) => volumeRoomName(r)))
    .where('kind', '=', 'group').orderBy('id').execute()
  const roomIds = rooms.map((room) => room.id)
  const biggest = rooms.find((room) => room.name === volumeRoomName(0))?.id ?? 0
  progress('empty table: the store')
  const emptyWrites = await measureWrites(db, 'empty', reader, roomIds)

  const steps: Step[] = []
  for (const size of settings.sizes) {
    progress(`seeding to ${size.toLocaleString('en-US')} volume messages`)
    const stopLowering = settings.seedPriority === 'low' ? keepSeedLowPriority(db) : () => {}
    const seedStarted = performance.now()
    let done = 0
    let shown = 0
    const added = await seedVolume(seedDb, {
      users: 200,
      messages: size,
      progress: {
        start: () => {},
        advance: (by) => {
          done += by
          if (done - shown >= 1_000_000) { shown = done; progress(`  seeded up to ${done.toLocaleString('en-US')}`) }
        },
        stop: () => {},
        step: (what) => progress(`  ${what}`)
      }
    })
    stopLowering()
    const seedSeconds = (performance.now() - seedStarted) / 1000
    progress(`  seeded ${added.messagesStored.toLocaleString('en-US')} in ${seedSeconds.toFixed(0)} s (${(added.messagesStored / seedSeconds).toFixed(0)}/s, analyze included)`)

    const relations = await relationSizes(db)
    // The caught-up reader has read all but the last 10 of each room, through the real acknowledgement.
    const ends = await db.selectFrom('rooms').select(['id', 'last_seq', 'last_change_seq']).where('id', 'in', roomIds).execute()
    await markSeenUpTo(db, caughtUp.id, new Map(ends.map((room) => [room.id, Math.max(0, room.last_seq - 10)])))
    const lastSeq = ends.find((room) => room.id === biggest)?.last_seq ?? 0
    // A reader who holds a cursor: each room seen up to its last 10, and told of every change so far.
    const cursor = {
      seenUpTo: new Map(ends.map((room) => [room.id, Math.max(0, room.last_seq - 10)])),
      changesAfter: new Map(ends.map((room) => [room.id, room.last_change_seq]))
    }
    const { rows: demoRooms } = await sql<{ room_id: number }>`select room_id from room_members where user_id = ${reader.id}`.execute(db)
    const searchRooms = demoRooms.map((row) => row.room_id)

    progress(`reads at ${size.toLocaleString('en-US')}`)
    const reads: Read[] = []
    const read = async (name: string, fn: (db: Db) => Promise<unknown>) => reads.push(await measureRead(capture, name, fn))
    await read('history, newest 50 (biggest room)', async (db) => await readRoomHistoryJson(db, biggest, Number.MAX_SAFE_INTEGER, 50))
    await read('history, 50 from the middle (biggest room)', async (db) => await readRoomHistoryJson(db, biggest, Math.floor(lastSeq / 2), 50))
    await read('history, the oldest 50 (biggest room)', async (db) => await readRoomHistoryJson(db, biggest, 51, 50))
    await read('unseen feed, first 100: reader who read nothing', async (db) => await readUnseenPage(db, reader.id, { seenUpTo: new Map() }, 100))
    await read('unseen feed, first 100: caught-up reader (stored watermarks)', async (db) => await readUnseenPage(db, caughtUp.id, { seenUpTo: new Map() }, 100))
    await read('unseen feed, first 100: caught-up reader (cursor, changes asked)', async (db) => await readUnseenPage(db, reader.id, cursor, 100))
    await read('rooms list, 50: caught-up reader (unread counts)', async (db) => await listRoomsForMember(db, caughtUp.id, 0, 50))
    await read('rooms list, 50: reader who read nothing (unread counts)', async (db) => await listRoomsForMember(db, reader.id, 0, 50))
    await read(`search across ${searchRooms.length} rooms: common word (deploy), newest 20`, async (db) => await searchMessages(db, { roomIds: searchRooms, q: 'deploy', order: 'newest', limit: 20 }))
    await read(`search across ${searchRooms.length} rooms: rare word (quokka), newest 20`, async (db) => await searchMessages(db, { roomIds: searchRooms, q: 'quokka', order: 'newest', limit: 20 }))

    progress(`the store at ${size.toLocaleString('en-US')}`)
    const writes = await measureWrites(db, String(size), reader, roomIds)
    steps.push({ messages: size, seed: { added: added.messagesStored, seconds: seedSeconds, perSecond: added.messagesStored / seedSeconds }, relations, reads, writes, loadAverage: loadavg() })
  }

  report(emptyWrites, steps)
  await mkdir('bench/results', { recursive: true })
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`
  await writeFile('bench/results/volume.json', JSON.stringify({ settings, machine, emptyWrites, steps }, null, 2))
  progress('wrote bench/results/volume.json')
}

function report (emptyWrites: Writes, steps: Step[]): void {
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
  const header = (first: string) => `| ${first} | ${steps.map((step) => `${(step.messages / 1e6).toLocaleString('en-US')} M`).join(' | ')} |\n| --- |${' --- |'.repeat(steps.length)}`
  console.log(`\nThe path beyond one primary; ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}; load average at each size: ${steps.map((step) => step.loadAverage.map((n) => n.toFixed(2)).join(' ')).join('; ')}\n`)
  console.log(header('seed'))
  console.log(`| messages/s (this step) | ${steps.map((step) => step.seed.perSecond.toFixed(0)).join(' | ')} |`)
  console.log(`\n${header('size, MiB per million messages (total MiB)')}`)
  for (const name of steps[0]?.relations.map((relation) => relation.name) ?? []) {
    console.log(`| ${name} | ${steps.map((step) => {
      const bytes = step.relations.find((relation) => relation.name === name)?.bytes ?? 0
      return `${mib(bytes / (step.messages / 1e6))} (${mib(bytes)})`
    }).join(' | ')} |`)
  }
  console.log(`| all | ${steps.map((step) => {
    const bytes = step.relations.reduce((sum, relation) => sum + relation.bytes, 0)
    return `${mib(bytes / (step.messages / 1e6))} (${mib(bytes)})`
  }).join(' | ')} |`)
  console.log(`\n${header('read: p50 / p99 ms; Postgres ms (of which JIT); buffers hit+read')}`)
  for (const name of steps[0]?.reads.map((read) => read.name) ?? []) {
    console.log(`| ${name} | ${steps.map((step) => {
      const r = step.reads.find((read) => read.name === name)
      return r === undefined ? '' : `${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)}; ${r.postgresMs.toFixed(2)} (JIT ${r.jitMs.toFixed(1)}); ${r.sharedHit}+${r.sharedRead}`
    }).join(' | ')} |`)
  }
  console.log(`\n| the store (batches of 64, 2 writers) | empty | ${steps.map((step) => `${(step.messages / 1e6).toLocaleString('en-US')} M`).join(' | ')} |\n| --- | --- |${' --- |'.repeat(steps.length)}`)
  console.log(`| messages/s | ${emptyWrites.perSecond.toFixed(0)} | ${steps.map((step) => step.writes.perSecond.toFixed(0)).join(' | ')} |`)
}

const cleanup: Array<() => unknown> = []
await runBench(async () => await main(cleanup), cleanup)
