/**
 * Search benchmark: `GET /v1/messages/search` on the volume seed (a million messages by default, in the 20 volume
 * rooms, all of them user_1's), for a common word and a rare one, newest first and by rank, on the first page and a
 * deep one: p50/p99 and the CPU per request of the API process and of the Postgres backends serving it, against the
 * floor of the same run (`GET /health/live`) and a room's history. Also a user whose rooms hold few messages, searching the most common
 * word: the case where walking the newest messages would read them all.
 *
 *   npm run bench:search -- [--messages=1000000] [--seconds=5] [--clients=4]
 *
 * Runs its own deployment (a fresh database, migrated, so the search index is in place while the seed writes, and a
 * fresh Redis prefix, dropped at the end) with one API process started from source. The seed's time is printed too.
 */
import { cpus, loadavg } from 'node:os'
import { mkdir, writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { createDb, type Db } from '../core/db/connect.js'
import { startApi } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { demoPassword } from '../seeds/demo-data.js'
import { seedDemo } from '../seeds/seed-demo.js'
import { seedVolume } from '../seeds/seed-volume.js'
import { cpuSeconds, createClient, percentile, progress, type Client } from './support.js'

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '4' }
  }
})
const settings = { messages: Number(args.messages), seconds: Number(args.seconds), clients: Number(args.clients) }

interface Scenario { name: string, token: string, path: string }

interface Result {
  name: string
  requests: number
  failed: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  hits: number
  apiCpuUsPerRequest: number
  postgresCpuUsPerRequest: number
}

/** The Postgres backends connected to the bench's database (the API's pool, once warm), by process id. */
async function backendPids (db: Db): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(db)
  return rows.map((row) => row.pid)
}

async function totalCpu (pids: number[]): Promise<number> {
  return (await Promise.all(pids.map(async (pid) => await cpuSeconds(pid).catch(() => 0)))).reduce((a, b) => a + b, 0)
}

/** `settings.clients` closed loops on one request for `settings.seconds`. */
async function measure (client: Client, apiPid: number, db: Db, scenario: Scenario): Promise<Result> {
  // As many at once as the loops will send, so the API's pool has opened the connections it will use.
  const [first] = await Promise.all(Array.from({ length: settings.clients }, async () => await client.request('GET', scenario.path, { token: scenario.token })))
  if (first?.status !== 200) throw new Error(`${scenario.name}: ${first?.status} ${JSON.stringify(first?.body)}`)
  const backends = await backendPids(db)
  const [apiBefore, postgresBefore] = [await cpuSeconds(apiPid), await totalCpu(backends)]
  const latencies: number[] = []
  let failed = 0
  const started = performance.now()
  const until = started + settings.seconds * 1000
  await Promise.all(Array.from({ length: settings.clients }, async () => {
    while (performance.now() < until) {
      const t0 = performance.now()
      if ((await client.request('GET', scenario.path, { token: scenario.token })).status !== 200) failed++
      latencies.push(performance.now() - t0)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  const [apiUsed, postgresUsed] = [await cpuSeconds(apiPid) - apiBefore, await totalCpu(backends) - postgresBefore]
  return {
    name: scenario.name,
    requests: latencies.length,
    failed,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    hits: (first.body as { items?: unknown[] }).items?.length ?? 0,
    apiCpuUsPerRequest: apiUsed * 1e6 / latencies.length,
    postgresCpuUsPerRequest: postgresUsed * 1e6 / latencies.length
  }
}

async function main (): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  const cleanup: Array<() => unknown> = []
  try {
    const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
    const db = createDb(config.DATABASE_URL, { max: 2 })
    cleanup.push(() => db.destroy())

    await seedDemo(db)
    const seedStarted = performance.now()
    let done = 0
    const seeded = await seedVolume(db, {
      users: 50,
      messages: settings.messages,
      progress: {
        start: () => {},
        advance: (by) => { done += by; if (done % 200_000 < by) progress(`seeded ${done.toLocaleString('en-US')}`) },
        stop: () => {}
      }
    })
    const seedSeconds = (performance.now() - seedStarted) / 1000
    progress(`seeded ${seeded.messagesStored.toLocaleString('en-US')} messages in ${seedSeconds.toFixed(0)} s (search index in place, analyze included)`)

    const api = await startApi(config)
    cleanup.push(() => api.stop())
    const client = createClient(api.url)
    cleanup.push(() => client.close())
    const login = async (username: string) => {
      const response = await client.request('POST', '/v1/auth/token', { body: { username, password: demoPassword } })
      if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`)
      return response.body.accessToken as string
    }
    // user_1 is in the volume rooms (all the messages); user_2 is in the demo rooms only (a few dozen).
    const [busy, quiet] = [await login('user_1'), await login('user_2')]

    /** `&cursor=…` of `pages` pages of `limit` in (where a deep page starts), or of the last page there is. */
    const deepCursor = async (query: string, pages: number, limit: number): Promise<string> => {
      let cursor = ''
      for (let page = 0; page < pages; page++) {
        const response = await client.request('GET', `/v1/messages/search?${query}&limit=${limit}${cursor === '' ? '' : `&cursor=${cursor}`}`, { token: busy })
        const next = (response.body as { nextCursor: string | null }).nextCursor
        if (next === null) break
        cursor = encodeURIComponent(next)
      }
      return cursor === '' ? '' : `&cursor=${cursor}`
    }
    const common = 'q=deploy'
    const rare = 'q=quokka'
    const scenarios: Scenario[] = [
      { name: 'floor: GET /health/live (no token, no data)', token: busy, path: '/health/live' },
      { name: 'room history, newest 20 (the volume room)', token: busy, path: `/v1/rooms/${await volumeRoomId(db)}/messages?limit=20` },
      { name: 'common word (deploy, ~7.6% of messages), newest first, first page', token: busy, path: `/v1/messages/search?${common}` },
      { name: 'common word, newest first, page 501 (10,000 hits deep)', token: busy, path: `/v1/messages/search?${common}${await deepCursor(common, 100, 100)}` },
      { name: 'common word, by rank, first page', token: busy, path: `/v1/messages/search?${common}&order=rank` },
      { name: 'common word, by rank, page 26 (500 hits deep)', token: busy, path: `/v1/messages/search?${common}&order=rank${await deepCursor(`${common}&order=rank`, 5, 100)}` },
      { name: 'rare word (quokka, ~110 messages), newest first, first page', token: busy, path: `/v1/messages/search?${rare}` },
      { name: 'rare word, newest first, last page', token: busy, path: `/v1/messages/search?${rare}${await deepCursor(rare, 5, 20)}` },
      { name: 'rare word, by rank, first page', token: busy, path: `/v1/messages/search?${rare}&order=rank` },
      { name: 'most common word (the, ~60%), newest first, first page', token: busy, path: '/v1/messages/search?q=the' },
      { name: 'a word and a phrase (deploy "the server"), newest first', token: busy, path: `/v1/messages/search?q=${encodeURIComponent('deploy "the server"')}` },
      { name: 'a user in small rooms only, the most common word', token: quiet, path: '/v1/messages/search?q=the' }
    ]
    const results: Result[] = []
    for (const scenario of scenarios) {
      progress(`${scenario.name}: ${settings.clients} clients for ${settings.seconds} s`)
      results.push(await measure(client, api.pid, db, scenario))
    }

    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, Node ${process.version}`
    console.log(`\nSearch over ${seeded.messagesStored.toLocaleString('en-US')} messages (seeded in ${seedSeconds.toFixed(0)} s), ${settings.clients} clients, ${settings.seconds} s each, limit 20; ${machine}\n`)
    console.log('| search | hits on the page | req/s | p50 / p99 | API CPU per request | Postgres CPU per request | failed |')
    console.log('| --- | --- | --- | --- | --- | --- | --- |')
    for (const r of results) {
      console.log(`| ${r.name} | ${r.hits} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(1)} / ${r.p99Ms.toFixed(1)} ms | ${r.apiCpuUsPerRequest.toFixed(0)} µs | ${r.postgresCpuUsPerRequest.toFixed(0)} µs | ${r.failed} |`)
    }
    await mkdir('bench/results', { recursive: true })
    await writeFile('bench/results/search.json', JSON.stringify({ settings, machine, seedSeconds, results }, null, 2))
    progress('wrote bench/results/search.json')
  } finally {
    for (const fn of cleanup.reverse()) await fn()
  }
}

async function volumeRoomId (db: Db): Promise<number> {
  return (await db.selectFrom('rooms').select('id').where('name', '=', 'volume').executeTakeFirstOrThrow()).id
}

await main()
