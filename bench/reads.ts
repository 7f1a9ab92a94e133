/**
 * Read benchmark: requests per second and p99 of the read routes a client calls most, each against the floor
 * of the same API process in the same run (`GET /health/live`: HTTP, routing and serialization, no token,
 * no Postgres, no Redis), so a busy machine shifts both sides alike.
 *
 *   npm run bench:reads -- [--seconds=5] [--apis=1] [--pending=5000] [--only=<text>] [--profile=<folder>]
 *
 * Runs its own deployment (a fresh database and Redis prefix, dropped at the end): `apis` API processes and one
 * worker, started from source; clients spread their requests over the API processes round-robin, as a load
 * balancer would. The data goes in through the API: `pending` sends into one room, so one reader has that many
 * unseen messages, the room that much history, and each sender finished tasks to read. `--only` runs the floor and
 * the scenarios whose name contains the text; `--profile` has the API processes write CPU profiles (node --cpu-prof)
 * into that folder when they stop, so a profile of one route is `--only` with `--profile`.
 */
import { cpus, loadavg } from 'node:os'
import { mkdir, writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { createDb } from '../core/db/connect.js'
import { mapLimit } from '../harness/map-limit.js'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { cheapPasswordHash, cpuSeconds, createClient, password, percentile, progress, type Client } from './support.js'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    apis: { type: 'string', default: '1' },
    pending: { type: 'string', default: '5000' },
    only: { type: 'string' },
    profile: { type: 'string' }
  }
})
const nodeArgs = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}`]
const settings = { seconds: Number(args.seconds), apis: Number(args.apis), pending: Number(args.pending) }

interface Scenario {
  name: string
  clients: number
  /** One request; answers whether it got the status it should. */
  request: (client: Client, lane: number, i: number) => Promise<boolean>
}

interface Result {
  name: string
  clients: number
  requests: number
  failed: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  /** CPU time (user + system) of the API processes per request: steadier than req/s on a machine doing other work. */
  apiCpuUsPerRequest: number
}

/** `clients` closed loops for `seconds`, each sending its next request when the last one was answered. */
async function measure (clients: Client[], apiPids: number[], scenario: Scenario): Promise<Result> {
  const apiCpu = async () => (await Promise.all(apiPids.map(cpuSeconds))).reduce((a, b) => a + b, 0)
  const cpuBefore = await apiCpu()
  const latencies: number[] = []
  let failed = 0
  let next = 0
  const started = performance.now()
  const until = started + settings.seconds * 1000
  await Promise.all(Array.from({ length: scenario.clients }, async (_, lane) => {
    const client = clients[lane % clients.length] as Client
    while (performance.now() < until) {
      const t0 = performance.now()
      if (!await scenario.request(client, lane, next++)) failed++
      latencies.push(performance.now() - t0)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  const cpuUsed = await apiCpu() - cpuBefore
  return {
    name: scenario.name,
    clients: scenario.clients,
    requests: latencies.length,
    failed,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    apiCpuUsPerRequest: cpuUsed * 1e6 / latencies.length
  }
}

async function main (): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  const cleanup: Array<() => unknown> = []
  try {
    const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
    const apis = await Promise.all(Array.from({ length: settings.apis }, async () => await startApi(config, {}, { nodeArgs })))
    for (const api of apis) cleanup.push(() => api.stop())
    const worker = startWorker(config)
    cleanup.push(() => worker.stop())
    const db = createDb(config.DATABASE_URL, { max: 2 })
    cleanup.push(() => db.destroy())
    const clients = apis.map((api) => createClient(api.url))
    cleanup.push(() => { for (const client of clients) client.close() })
    const [client] = clients as [Client]

    // 50 users in one room: user 1 reads, the other 49 send.
    const names = Array.from({ length: 50 }, (_, i) => `reader_${i + 1}`)
    const { rows: users } = await sql<{ id: number }>`
      insert into users (username, password_hash, display_name)
      select name, ${await cheapPasswordHash()}, name from unnest(${names}::text[]) as name returning id`.execute(db)
    const room = await db.insertInto('rooms').values({ kind: 'group', name: 'reads' }).returning('id').executeTakeFirstOrThrow()
    await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${users.map((u) => u.id)}::bigint[])`.execute(db)
    const tokens = await mapLimit(names, 8, async (username) => {
      const response = await client.request('POST', '/v1/auth/token', { body: { username, password } })
      if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`)
      return response.body.accessToken as string
    })
    const [readerToken, ...senderTokens] = tokens as [string, ...string[]]

    const taskIds = await mapLimit(Array.from({ length: settings.pending }, (_, i) => i), 32, async (i) => {
      const response = await client.request('POST', `/v1/rooms/${room.id}/messages`, { token: senderTokens[i % senderTokens.length] as string, body: { text: `message ${i}` } })
      if (response.status !== 202) throw new Error(`send: ${response.status}`)
      return { taskId: response.body.taskId as string, token: senderTokens[i % senderTokens.length] as string }
    })
    for (;;) {
      const { n } = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<string>().as('n')).where('state', '=', 'completed').executeTakeFirstOrThrow()
      if (Number(n) >= taskIds.length) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    progress(`seeded ${names.length} users in one room, ${taskIds.length} sends stored through the API`)

    // What a poller holds after its first answer: each lane's task's tag, and the users list's.
    const taskTags = await mapLimit(taskIds.slice(0, 20), 8, async (t) => (await client.request('GET', `/v1/tasks/${t.taskId}`, { token: t.token })).etag)
    const usersTag = (await client.request('GET', '/v1/users', { token: readerToken })).etag as string
    const ok = (status: number) => async (response: Promise<{ status: number }>) => (await response).status === status
    const scenarios: Scenario[] = [
      { name: 'floor: GET /health/live (no token, no data)', clients: 20, request: async (c) => await ok(200)(c.request('GET', '/health/live')) },
      { name: 'task state by id (completed)', clients: 20, request: async (c, _lane, i) => { const t = taskIds[i % taskIds.length] as { taskId: string, token: string }; return await ok(200)(c.request('GET', `/v1/tasks/${t.taskId}`, { token: t.token })) } },
      { name: 'task state, each client polling its own (completed)', clients: 20, request: async (c, lane) => { const t = taskIds[lane] as { taskId: string, token: string }; return await ok(200)(c.request('GET', `/v1/tasks/${t.taskId}`, { token: t.token })) } },
      { name: 'task state, polling with If-None-Match (304)', clients: 20, request: async (c, lane) => { const t = taskIds[lane] as { taskId: string, token: string }; return await ok(304)(c.request('GET', `/v1/tasks/${t.taskId}`, { token: t.token, headers: { 'if-none-match': taskTags[lane] as string } })) } },
      { name: 'users list, first page (cached)', clients: 50, request: async (c, lane) => await ok(200)(c.request('GET', '/v1/users', { token: tokens[lane % tokens.length] as string })) },
      { name: 'users list, If-None-Match (304)', clients: 50, request: async (c, lane) => await ok(304)(c.request('GET', '/v1/users', { token: tokens[lane % tokens.length] as string, headers: { 'if-none-match': usersTag } })) },
      { name: 'room history, newest 50', clients: 20, request: async (c, lane) => await ok(200)(c.request('GET', `/v1/rooms/${room.id}/messages?limit=50`, { token: tokens[lane % tokens.length] as string })) },
      { name: `unseen feed, first page of 100 (${settings.pending} pending)`, clients: 10, request: async (c) => await ok(200)(c.request('GET', '/v1/messages/unseen?limit=100', { token: readerToken })) }
    ]
    const results: Result[] = []
    const only = args.only
    for (const scenario of scenarios.filter((scenario, i) => i === 0 || only === undefined || scenario.name.includes(only))) {
      progress(`${scenario.name}: ${scenario.clients} clients for ${settings.seconds} s over ${apis.length} API process(es)`)
      results.push(await measure(clients, apis.map((api) => api.pid), scenario))
    }

    const floor = results[0] as Result
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, Node ${process.version}`
    console.log(`\nReads over ${apis.length} API process(es), ${settings.seconds} s each; ${machine}\n`)
    console.log('| route | clients | req/s | p50 / p99 | req/s ÷ floor | API CPU per request | failed |')
    console.log('| --- | --- | --- | --- | --- | --- | --- |')
    for (const r of results) {
      console.log(`| ${r.name} | ${r.clients} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)} ms | ${(r.perSecond / floor.perSecond).toFixed(2)}× | ${r.apiCpuUsPerRequest.toFixed(0)} µs | ${r.failed} |`)
    }
    await mkdir('bench/results', { recursive: true })
    await writeFile('bench/results/reads.json', JSON.stringify({ settings, machine, results }, null, 2))
    progress('wrote bench/results/reads.json')
  } finally {
    for (const fn of cleanup.reverse()) await fn()
  }
}

await main()
