/**
 * Throughput benchmark: how many sends Pigeon accepts and stores per second, end to end, against the bare
 * BullMQ + pg pipeline (bench/bare-pipeline.ts) measured in the same run on the same Postgres and Redis.
 *
 *   npm run bench:throughput -- [--sends=20000] [--clients=50] [--rooms=1] [--rounds=1] [--apis=1] [--concurrency=N] [--profile=<folder>]
 *
 * Runs its own deployment (a fresh database and Redis prefix, dropped at the end): `apis` API processes (clients
 * spread over them round-robin, as a load balancer would) and one worker process, started from source. `clients` users, all members of every room, send `sends` messages in a
 * closed loop (each client sends its next message when the last one was answered), round-robin over the rooms.
 * Stored/s counts from the first send to the moment the last accepted message is in Postgres.
 * The bare pipeline does the same count with `clients` producers calling Queue.add and a worker process
 * (concurrency 50) doing one INSERT per job. Each round runs the bare pipeline, then Pigeon.
 */
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { sql } from 'kysely'
import { createDb, type Db } from '../core/db/connect.js'
import { mapLimit } from '../harness/map-limit.js'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { spawnTied } from '../harness/tied-child.js'
import { bareQueueName, cheapPasswordHash, cpuSeconds, createClient, machineBusySeconds, password, percentile, progress } from './support.js'

const { values: args } = parseArgs({
  options: {
    sends: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '50' },
    rooms: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    apis: { type: 'string', default: '1' },
    /** Pigeon's WORKER_CONCURRENCY (its default when left out). */
    concurrency: { type: 'string' },
    /** A folder: the API and worker processes write CPU profiles there (node --cpu-prof) when they stop. */
    profile: { type: 'string' }
  }
})
const settings = { sends: Number(args.sends), clients: Number(args.clients), rooms: Number(args.rooms), rounds: Number(args.rounds), apis: Number(args.apis) }
const nodeArgs = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}`]

interface Run {
  name: string
  accepted: number
  acceptedPerSecond: number
  acceptP50Ms: number
  acceptP99Ms: number
  storedPerSecond: number
  /** CPU time (user + system) of the measured processes per stored message, by process. */
  cpuMsPerMessage: Record<string, number>
}

/** Waits until `count()` reaches `n`, and answers when it did (performance.now()), sampling every 20 ms. */
async function whenCounted (count: () => Promise<number>, n: number): Promise<number> {
  for (;;) {
    if (await count() >= n) return performance.now()
    await sleep(20)
  }
}

/** Splits `total` jobs over `lanes` closed loops; returns each job's latency in ms and when the last one answered. */
async function closedLoop (total: number, lanes: number, job: (i: number, lane: number) => Promise<boolean>) {
  const latencies: number[] = []
  let next = 0
  let ok = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    while (next < total) {
      const i = next++
      const t0 = performance.now()
      if (await job(i, lane)) ok++
      latencies.push(performance.now() - t0)
    }
  }))
  return { started, answered: performance.now(), latencies, ok }
}

async function runBare (db: Db, redisUrl: string, databaseUrl: string, prefix: string): Promise<Run> {
  await sql`create table if not exists bare_messages (id bigint generated always as identity primary key, text text not null)`.execute(db)
  await sql`truncate bare_messages`.execute(db)
  const bare = spawnTied(process.execPath, ['--import=tsx', 'bench/bare-pipeline.ts'], {
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, BARE_PREFIX: prefix },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  await once(bare.child, 'message')
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null })
  const queue = new Queue(bareQueueName, { connection, prefix, defaultJobOptions: { removeOnComplete: { count: 1000 } } })
  const pids = { worker: [bare.child.pid ?? 0] }
  try {
    const cpuBefore = await cpuOf(pids)
    const load = await closedLoop(settings.sends, settings.clients, async (i) => {
      await queue.add('bare', { text: `bare ${i}` })
      return true
    })
    const stored = await whenCounted(async () => Number((await sql<{ n: string }>`select count(*) as n from bare_messages`.execute(db)).rows[0]?.n), settings.sends)
    return summarise('bare pipeline', load, stored, cpuPerMessage(cpuBefore, await cpuOf(pids), settings.sends))
  } finally {
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close()
    connection.disconnect()
    await bare.stop('SIGTERM')
  }
}

/**
 * CPU seconds each group of processes used so far, summed over the group, and the whole machine's busy time
 * (`machine`: Postgres, Redis and the load generator too), read before and after a run.
 */
async function cpuOf (pids: Record<string, number[]>): Promise<Record<string, number>> {
  const groups = await Promise.all(Object.entries(pids).map(async ([name, group]) =>
    [name, (await Promise.all(group.map(cpuSeconds))).reduce((a, b) => a + b, 0)] as const))
  return { ...Object.fromEntries(groups), machine: await machineBusySeconds() }
}

function cpuPerMessage (before: Record<string, number>, after: Record<string, number>, messages: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, ((after[name] ?? 0) - (before[name] ?? 0)) * 1000 / messages]))
}

function summarise (name: string, load: Awaited<ReturnType<typeof closedLoop>>, stored: number, cpuMsPerMessage: Record<string, number>): Run {
  return {
    cpuMsPerMessage,
    name,
    accepted: load.ok,
    acceptedPerSecond: load.ok / ((load.answered - load.started) / 1000),
    acceptP50Ms: percentile(load.latencies, 50),
    acceptP99Ms: percentile(load.latencies, 99),
    storedPerSecond: load.ok / ((stored - load.started) / 1000)
  }
}

async function main (): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  const cleanup: Array<() => unknown> = []
  try {
    const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
    const apis = await Promise.all(Array.from({ length: settings.apis }, async () => await startApi(config, {}, { nodeArgs })))
    for (const api of apis) cleanup.push(() => api.stop())
    const worker = startWorker(config, args.concurrency === undefined ? {} : { WORKER_CONCURRENCY: args.concurrency }, nodeArgs)
    cleanup.push(() => worker.stop())
    const db = createDb(config.DATABASE_URL, { max: 2 })
    cleanup.push(() => db.destroy())
    progress(`API pid(s) ${apis.map((api) => api.pid).join(', ')}, worker pid ${worker.pid}`)

    const names = Array.from({ length: settings.clients }, (_, i) => `client_${i + 1}`)
    const { rows: users } = await sql<{ id: number }>`
      insert into users (username, password_hash, display_name)
      select name, ${await cheapPasswordHash()}, name from unnest(${names}::text[]) as name returning id`.execute(db)
    const roomIds: number[] = []
    for (let r = 0; r < settings.rooms; r++) {
      const room = await db.insertInto('rooms').values({ kind: 'group', name: `bench_${r + 1}` }).returning('id').executeTakeFirstOrThrow()
      await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${users.map((u) => u.id)}::bigint[])`.execute(db)
      roomIds.push(room.id)
    }
    const clients = apis.map((api) => createClient(api.url))
    cleanup.push(() => { for (const client of clients) client.close() })
    const [client] = clients as [ReturnType<typeof createClient>]
    const tokens = await mapLimit(names, 16, async (username) => {
      const response = await client.request('POST', '/v1/auth/token', { body: { username, password } })
      if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`)
      return response.body.accessToken as string
    })
    progress(`seeded ${names.length} users in ${roomIds.length} room(s), logged in over HTTP`)

    const runs: Run[] = []
    for (let round = 1; round <= settings.rounds; round++) {
      progress(`round ${round}: bare pipeline, ${settings.sends} jobs from ${settings.clients} producers`)
      runs.push(await runBare(db, config.REDIS_URL, config.DATABASE_URL, `{${config.REDIS_PREFIX}-bare}`))
      progress(`round ${round}: Pigeon, ${settings.sends} sends from ${settings.clients} clients`)
      const before = Number((await sql<{ n: string }>`select count(*) as n from messages`.execute(db)).rows[0]?.n)
      const pids = { api: apis.map((api) => api.pid), worker: [worker.pid] }
      const cpuBefore = await cpuOf(pids)
      const load = await closedLoop(settings.sends, settings.clients, async (i, lane) => {
        const roomId = roomIds[i % roomIds.length] as number
        const response = await (clients[lane % clients.length] as typeof client).request('POST', `/v1/rooms/${roomId}/messages`, { token: tokens[lane] as string, body: { text: `message ${i}` } })
        return response.status === 202
      })
      const stored = await whenCounted(async () => Number((await sql<{ n: string }>`select count(*) as n from messages`.execute(db)).rows[0]?.n) - before, load.ok)
      runs.push(summarise('Pigeon (HTTP → 202 → worker → Postgres)', load, stored, cpuPerMessage(cpuBefore, await cpuOf(pids), load.ok)))
    }

    const bare = runs.filter((run) => run.name === 'bare pipeline')
    const pigeon = runs.filter((run) => run.name !== 'bare pipeline')
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
    const ratio = mean(pigeon.map((run) => run.storedPerSecond)) / mean(bare.map((run) => run.storedPerSecond))
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, Node ${process.version}`
    console.log(`\n${settings.sends} sends from ${settings.clients} clients into ${settings.rooms} room(s) through ${settings.apis} API process(es); ${machine}\n`)
    console.log('| run | accepted | accepted/s | accept p50 / p99 | stored/s end to end | CPU per message |')
    console.log('| --- | --- | --- | --- | --- | --- |')
    for (const run of runs) {
      const cpu = Object.entries(run.cpuMsPerMessage).map(([name, ms]) => `${name} ${ms.toFixed(2)} ms`).join(', ')
      console.log(`| ${run.name} | ${run.accepted} | ${run.acceptedPerSecond.toFixed(0)} | ${run.acceptP50Ms.toFixed(1)} / ${run.acceptP99Ms.toFixed(1)} ms | ${run.storedPerSecond.toFixed(0)} | ${cpu} |`)
    }
    console.log(`\nPigeon stored/s ÷ bare pipeline stored/s: ${ratio.toFixed(2)}×`)
    await mkdir('bench/results', { recursive: true })
    await writeFile('bench/results/throughput.json', JSON.stringify({ settings, machine, runs, ratio }, null, 2))
    progress('wrote bench/results/throughput.json')
  } finally {
    for (const fn of cleanup.reverse()) await fn()
  }
}

await main()
