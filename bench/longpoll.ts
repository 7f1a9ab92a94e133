/**
 * Long-poll benchmark: what holding thousands of idle long polls costs the API process, in memory and in
 * send→delivered latency for the users who do get messages.
 *
 *   npm run bench:longpoll -- [--pollers=5000] [--rate=200] [--seconds=10] [--rooms=50] [--receivers=2] [--hops=50] [--profile=<folder>]
 *
 * Runs its own deployment (a fresh database and Redis prefix, dropped at the end): one API process and one
 * worker process, started from source as children so the API's memory can be read from /proc. Idle pollers
 * sit in one big room that nobody writes to, holding `wait=30` polls (re-issued when they return); the load
 * is `rate` sends per second from one sender per small room, each room with `receivers` pollers of its own.
 * The same load runs three times in one run: with no idle pollers (the baseline), with them, and again
 * without them once they hung up (so drift from other work on the machine shows).
 *
 * Before the load, `hops` messages go one at a time (each once the last was delivered), and each is timed hop by hop:
 * the client's send and delivery, the task's and the message's rows (when each transaction began), and the BullMQ
 * job (added, picked up, finished). One machine, one clock.
 */
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import { createDb } from '../core/db/connect.js'
import { closeQueues, createQueues } from '../core/queue.js'
import { createPatientRedis } from '../core/redis.js'
import { mapLimit } from '../harness/map-limit.js'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { cheapPasswordHash, cpuSeconds, createClient, password, percentile, progress, rssMiB, runBench } from './support.js'

const { values: args } = parseArgs({
  options: {
    pollers: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    rooms: { type: 'string', default: '50' },
    receivers: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '5' },
    hops: { type: 'string', default: '50' },
    /** A folder: the API and worker processes write CPU profiles there (node --cpu-prof) when they stop. */
    profile: { type: 'string' }
  }
})
const settings = {
  pollers: Number(args.pollers),
  rate: Number(args.rate),
  seconds: Number(args.seconds),
  rooms: Number(args.rooms),
  receiversPerRoom: Number(args.receivers),
  warmupSeconds: Number(args.warmup),
  hops: Number(args.hops)
}

interface BenchUser { id: number, username: string, token: string }
interface SmallRoom { id: number, sender: BenchUser, receivers: BenchUser[] }

interface PhaseResult {
  attempted: number
  accepted: number
  /** From the first send to the last 202. */
  seconds: number
  acceptMs: number[]
  deliveredMs: number[]
  expectedDeliveries: number
}

/** One side of the comparison: the API's memory before and after the load, and the load's figures. */
interface PhaseSummary {
  rss: number
  rssAfter: number
  waiters: number | undefined
  idleCpuPercent: number
  load: PhaseResult
  apiCpuMsPerSend: number
  workerCpuMsPerSend: number
  /** The API's time in garbage collection during the load (prom-client's nodejs_gc_duration_seconds), by kind. */
  gcMs: { all: number, major: number }
  loadAverage: number
}

const cleanup: Array<() => unknown> = []

async function main (): Promise<void> {
  progress(`settings: ${JSON.stringify(settings)}`)
  const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
  const nodeArgs = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}`]
  const api = await startApi(config, {}, { nodeArgs })
  cleanup.push(() => api.stop())
  const worker = startWorker(config, {}, nodeArgs)
  cleanup.push(() => worker.stop())
  progress(`API pid ${api.pid} at ${api.url}, worker pid ${worker.pid}, database and prefix ${config.REDIS_PREFIX}`)

  // Seed users and rooms straight into Postgres: the bench measures polling, not sign-ups.
  const db = createDb(config.DATABASE_URL, { max: 2 })
  cleanup.push(() => db.destroy())
  const hash = await cheapPasswordHash()
  const names = [
    ...Array.from({ length: settings.pollers }, (_, i) => `idle_${i + 1}`),
    ...Array.from({ length: settings.rooms }, (_, i) => `sender_${i + 1}`),
    ...Array.from({ length: settings.rooms * settings.receiversPerRoom }, (_, i) => `receiver_${i + 1}`)
  ]
  const { rows } = await sql<{ id: number, username: string }>`
    insert into users (username, password_hash, display_name)
    select name, ${hash}, name from unnest(${names}::text[]) as name
    returning id, username`.execute(db)
  const idOf = new Map(rows.map((row) => [row.username, row.id]))

  async function seedRoom (name: string, memberNames: string[]): Promise<number> {
    const room = await db.insertInto('rooms').values({ kind: 'group', name }).returning('id').executeTakeFirstOrThrow()
    const memberIds = memberNames.map((member) => idOf.get(member) as number)
    await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${memberIds}::bigint[])`.execute(db)
    return room.id
  }
  const idleNames = names.filter((name) => name.startsWith('idle_'))
  if (idleNames.length > 0) await seedRoom('lobby', idleNames)
  const roomPlans: Array<{ id: number, sender: string, receivers: string[] }> = []
  for (let i = 0; i < settings.rooms; i++) {
    const receivers = Array.from({ length: settings.receiversPerRoom }, (_, k) => `receiver_${i * settings.receiversPerRoom + k + 1}`)
    roomPlans.push({ id: await seedRoom(`small_${i + 1}`, [`sender_${i + 1}`, ...receivers]), sender: `sender_${i + 1}`, receivers })
  }
  progress(`seeded ${names.length} users, 1 lobby of ${idleNames.length}, ${settings.rooms} small rooms`)

  // Tokens come from the real login route.
  const control = createClient(api.url)
  cleanup.push(() => control.close())
  const tokens = new Map<string, string>()
  await mapLimit(names, 32, async (username) => {
    const response = await control.request('POST', '/v1/auth/token', { body: { username, password } })
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${JSON.stringify(response.body)}`)
    tokens.set(username, response.body.accessToken)
  })
  const benchUser = (username: string): BenchUser => ({ id: idOf.get(username) as number, username, token: tokens.get(username) as string })
  const rooms: SmallRoom[] = roomPlans.map((plan) => ({ id: plan.id, sender: benchUser(plan.sender), receivers: plan.receivers.map(benchUser) }))
  progress(`logged in ${tokens.size} users over HTTP`)

  async function metrics (): Promise<string> {
    const response = await fetch(`${api.url}/metrics`).catch(() => undefined)
    return response === undefined || !response.ok ? '' : await response.text()
  }
  async function feedWaiters (): Promise<number | undefined> {
    const match = /^pigeon_longpoll_waiters\{kind="feed"\} (\d+)$/m.exec(await metrics())
    return match === null ? undefined : Number(match[1])
  }
  /** Seconds the API has spent in garbage collection so far: all kinds, and major (mark-compact) alone. */
  async function gcSeconds (): Promise<{ all: number, major: number }> {
    const sums = [...(await metrics()).matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} ([\d.e+-]+)$/gm)]
    return {
      all: sums.reduce((total, [, , value]) => total + Number(value), 0),
      major: sums.filter(([, kind]) => kind === 'major').reduce((total, [, , value]) => total + Number(value), 0)
    }
  }
  /** Until the API reports exactly `n` feed waiters (when /metrics answers at all). */
  async function waitForWaiters (n: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const count = await feedWaiters()
      if (count === undefined || count === n) return
      await sleep(200)
    }
    progress(`warning: ${await feedWaiters()} feed waiters after ${ms} ms, expected ${n}`)
  }

  // Receivers: poll, take what came, pass the cursor back at once (as a real client does).
  const sentAt = new Map<string, number>()
  /** When each text first reached a receiver (performance.now()). */
  const deliveredAt = new Map<string, number>()
  let deliveries: number[] = []
  const receiversDone = new AbortController()
  const receiverClient = createClient(api.url)
  cleanup.push(() => receiverClient.close())
  const receiverCount = rooms.length * settings.receiversPerRoom
  const receiving = rooms.flatMap((room) => room.receivers).map(async (receiver) => {
    let cursor: string | undefined
    while (!receiversDone.signal.aborted) {
      const query = cursor === undefined ? 'wait=30&limit=200' : `wait=30&limit=200&cursor=${cursor}`
      const response = await receiverClient.request('GET', `/v1/messages/unseen?${query}`, { token: receiver.token }).catch(() => undefined)
      const now = performance.now()
      if (response === undefined || response.status !== 200) {
        if (!receiversDone.signal.aborted) await sleep(100)
        continue
      }
      for (const item of response.body.items as Array<{ text: string }>) {
        const sent = sentAt.get(item.text)
        if (sent !== undefined) deliveries.push(now - sent)
        if (!deliveredAt.has(item.text)) deliveredAt.set(item.text, now)
      }
      cursor = response.body.cursor
    }
  })
  await waitForWaiters(receiverCount, 10_000)

  /** Sends `rate` messages a second for `seconds` (open loop), then waits for every delivery (at most 15 s). */
  async function runLoad (phase: string, seconds: number): Promise<PhaseResult> {
    deliveries = []
    const attempted = Math.round(seconds * settings.rate)
    const acceptMs: number[] = []
    const requests: Array<Promise<void>> = []
    const start = performance.now()
    let lastAccepted = start
    for (let i = 0; i < attempted; i++) {
      const due = start + (i * 1000) / settings.rate
      const ahead = due - performance.now()
      if (ahead >= 1) await sleep(ahead)
      const room = rooms[i % rooms.length] as SmallRoom
      const text = `${phase} #${i}`
      const sent = performance.now()
      sentAt.set(text, sent)
      requests.push(senderClient.request('POST', `/v1/rooms/${room.id}/messages`, { token: room.sender.token, body: { text } })
        .then((response) => {
          if (response.status !== 202) return
          lastAccepted = performance.now()
          acceptMs.push(lastAccepted - sent)
        }, () => {}))
    }
    await Promise.all(requests)
    const expectedDeliveries = acceptMs.length * settings.receiversPerRoom
    const deadline = performance.now() + 15_000
    while (deliveries.length < expectedDeliveries && performance.now() < deadline) await sleep(50)
    return { attempted, accepted: acceptMs.length, seconds: (lastAccepted - start) / 1000, acceptMs, deliveredMs: deliveries, expectedDeliveries }
  }

  /**
   * Settles for 2 s (the API's CPU use while only holding polls), reads its memory and waiter count, runs
   * the load (the API's and the worker's CPU time per accepted send: a figure other work on the machine
   * hardly moves, unlike latency), reads the memory again.
   */
  async function measure (phase: string, label: string): Promise<PhaseSummary> {
    const idleFrom = await cpuSeconds(api.pid)
    await sleep(2000)
    const idleCpuPercent = (await cpuSeconds(api.pid) - idleFrom) / 2 * 100
    const rss = await rssMiB(api.pid)
    const waiters = await feedWaiters()
    progress(`${label}: API RSS ${rss.toFixed(1)} MiB, ${waiters ?? 'n/a'} feed waiters, load average ${loadavg()[0]?.toFixed(1)}; ${settings.seconds} s at ${settings.rate}/s`)
    const [apiFrom, workerFrom, gcFrom] = [await cpuSeconds(api.pid), await cpuSeconds(worker.pid), await gcSeconds()]
    const load = await runLoad(phase, settings.seconds)
    const gcTo = await gcSeconds()
    const gcMs = { all: (gcTo.all - gcFrom.all) * 1000, major: (gcTo.major - gcFrom.major) * 1000 }
    const apiCpuMsPerSend = (await cpuSeconds(api.pid) - apiFrom) * 1000 / load.accepted
    const workerCpuMsPerSend = (await cpuSeconds(worker.pid) - workerFrom) * 1000 / load.accepted
    return { rss, waiters, idleCpuPercent, load, apiCpuMsPerSend, workerCpuMsPerSend, gcMs, rssAfter: await rssMiB(api.pid), loadAverage: loadavg()[0] ?? 0 }
  }

  const senderClient = createClient(api.url)
  cleanup.push(() => senderClient.close())

  /** Sends `count` messages into the first room, each once the last was delivered; each one's hops in ms. */
  async function timeHops (count: number): Promise<Hops[]> {
    const room = rooms[0] as SmallRoom
    const epoch = (at: number) => performance.timeOrigin + at
    const sends: Array<{ taskId: string, text: string, sent: number, accepted: number }> = []
    for (let i = 0; i < count; i++) {
      const text = `hop #${i}`
      const sent = performance.now()
      sentAt.set(text, sent)
      const response = await senderClient.request('POST', `/v1/rooms/${room.id}/messages`, { token: room.sender.token, body: { text } })
      if (response.status !== 202) throw new Error(`send: ${response.status}`)
      sends.push({ taskId: response.body.taskId, text, sent, accepted: performance.now() })
      const deadline = performance.now() + 5000
      while (!deliveredAt.has(text) && performance.now() < deadline) await sleep(1)
      await sleep(20)
    }
    const stored = await db.selectFrom('messages').select(['task_id', 'created_at']).where('task_id', 'in', sends.map((send) => send.taskId)).execute()
    const storeBegan = new Map(stored.map((row) => [row.task_id, row.created_at.getTime()]))
    const redis = createPatientRedis(config, 'pigeon-bench')
    const queues = createQueues(redis, config.REDIS_PREFIX)
    try {
      const hops: Hops[] = []
      for (const send of sends) {
        const job = await queues.tasks.getJob(send.taskId)
        const delivered = deliveredAt.get(send.text)
        const began = storeBegan.get(send.taskId)
        if (job?.processedOn === undefined || job.finishedOn === undefined || delivered === undefined || began === undefined) continue
        hops.push({
          accept: send.accepted - send.sent,
          pickup: job.processedOn - job.timestamp,
          toStore: began - job.processedOn,
          storeAndPublish: job.finishedOn - began,
          toDelivered: epoch(delivered) - job.finishedOn,
          total: delivered - send.sent
        })
      }
      return hops
    } finally {
      await closeQueues(queues)
      redis.disconnect()
    }
  }

  progress(`warm-up: ${settings.warmupSeconds} s at ${settings.rate}/s`)
  await runLoad('warmup', settings.warmupSeconds)
  await waitForWaiters(receiverCount, 10_000)
  if (settings.hops > 0) {
    progress(`${settings.hops} messages one at a time, timed hop by hop`)
    printHops(await timeHops(settings.hops))
    await waitForWaiters(receiverCount, 10_000)
  }
  const baseline = await measure('baseline', 'baseline')

  // Idle pollers: their own socket pool; started in batches so the accept queue keeps up.
  const idleClient = createClient(api.url)
  cleanup.push(() => idleClient.close())
  const idleDone = new AbortController()
  let idleAnswered = 0
  const idling: Array<Promise<void>> = []
  const idleTokens = idleNames.map((name) => tokens.get(name) as string)
  for (let i = 0; i < idleTokens.length; i += 250) {
    for (const token of idleTokens.slice(i, i + 250)) {
      idling.push((async () => {
        while (!idleDone.signal.aborted) {
          const response = await idleClient.request('GET', '/v1/messages/unseen?wait=30', { token }).catch(() => undefined)
          if (response === undefined) await sleep(500)
          else idleAnswered++
        }
      })())
    }
    await sleep(100)
  }
  await waitForWaiters(settings.pollers + receiverCount, 60_000)
  const loaded = await measure('loaded', `with ${settings.pollers} idle pollers`)
  progress(`idle polls answered while idle: ${idleAnswered} (each is re-issued)`)

  // The idle pollers hang up; their waiters must go, and the same load runs once more to show the drift.
  idleDone.abort()
  idleClient.close()
  await Promise.all(idling)
  await waitForWaiters(receiverCount, 10_000)
  const again = await measure('again', 'idle pollers hung up')

  receiversDone.abort()
  receiverClient.close()
  senderClient.close()
  await Promise.all(receiving)

  printTable(baseline, loaded, again)
}

/** One message's way, in ms. */
interface Hops {
  /** At the client: POST → 202 (HTTP, checks, the task committed, the job added). */
  accept: number
  /** The job added → a worker picked it up. */
  pickup: number
  /** Picked up → its store transaction began (the message's created_at). */
  toStore: number
  /** The transaction began → the job finished (the store, its COMMIT, the wake-up published after it). */
  storeAndPublish: number
  /** The job finished → the receiver had it (the wake-up received, the feed read, the answer; the publish came a moment before). */
  toDelivered: number
  /** At the client: send → delivered. */
  total: number
}

function printHops (hops: Hops[]): void {
  const rows: Array<[string, keyof Hops]> = [
    ['accept: POST → 202 at the client', 'accept'],
    ['queue: job added → picked up by the worker', 'pickup'],
    ['worker: picked up → store transaction began', 'toStore'],
    ['store: transaction began → job finished (COMMIT, wake-up published)', 'storeAndPublish'],
    ['wake + read: job finished → delivered at the client', 'toDelivered'],
    ['send → delivered at the client', 'total']
  ]
  console.log('')
  console.log(`One message at a time (${hops.length} messages, each after the last was delivered), hop by hop, ms:`)
  console.log('| hop | p50 | p99 | max |')
  console.log('| --- | --- | --- | --- |')
  for (const [label, key] of rows) {
    const values = hops.map((hop) => hop[key])
    console.log(`| ${label} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 99).toFixed(1)} | ${percentile(values, 100).toFixed(1)} |`)
  }
}

function printTable (baseline: PhaseSummary, loaded: PhaseSummary, again: PhaseSummary): void {
  const ms = (value: number) => Number.isNaN(value) ? 'n/a' : value.toFixed(1)
  const ratio = (a: number, b: number) => Number.isFinite(b / a) ? `${(b / a).toFixed(2)}x` : ''
  const phases = [baseline, loaded, again]
  const rows: string[][] = []
  function numeric (label: string, read: (phase: PhaseSummary) => number): void {
    const [a, b, c] = phases.map(read) as [number, number, number]
    rows.push([label, ms(a), ms(b), ratio(a, b), ms(c)])
  }
  function text (label: string, read: (phase: PhaseSummary) => string): void {
    const [a, b, c] = phases.map(read) as [string, string, string]
    rows.push([label, a, b, '', c])
  }

  numeric('API RSS before the load (MiB)', (p) => p.rss)
  numeric('API RSS after the load (MiB)', (p) => p.rssAfter)
  text('feed waiters (/metrics)', (p) => String(p.waiters ?? 'n/a'))
  numeric('API CPU with no sends (% of a core)', (p) => p.idleCpuPercent)
  text('sends accepted / attempted', (p) => `${p.load.accepted} / ${p.load.attempted}`)
  numeric('sends accepted per second', (p) => p.load.accepted / p.load.seconds)
  numeric('POST send → 202 p50 (ms)', (p) => percentile(p.load.acceptMs, 50))
  numeric('POST send → 202 p99 (ms)', (p) => percentile(p.load.acceptMs, 99))
  text('deliveries received / expected', (p) => `${p.load.deliveredMs.length} / ${p.load.expectedDeliveries}`)
  numeric('send → delivered p50 (ms)', (p) => percentile(p.load.deliveredMs, 50))
  numeric('send → delivered p99 (ms)', (p) => percentile(p.load.deliveredMs, 99))
  numeric('send → delivered max (ms)', (p) => percentile(p.load.deliveredMs, 100))
  numeric('API CPU per send, all work (ms)', (p) => p.apiCpuMsPerSend)
  numeric('worker CPU per send, all work (ms)', (p) => p.workerCpuMsPerSend)
  numeric('API time in GC during the load (ms)', (p) => p.gcMs.all)
  numeric('  of which major, mark-compact (ms)', (p) => p.gcMs.major)
  numeric('machine load average after', (p) => p.loadAverage)

  const header = ['', 'baseline (0 idle)', `${settings.pollers} idle pollers`, 'ratio', 'again, 0 idle']
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]?.length ?? 0)))
  const line = (cells: string[]) => cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)).join('  ')
  const perWaiterKiB = ((loaded.rss - baseline.rss) * 1024) / settings.pollers
  console.log('')
  console.log(`Long-poll benchmark (${cpus().length} CPUs): ${settings.rate} msg/s for ${settings.seconds} s into ${settings.rooms} rooms of 1 sender + ${settings.receiversPerRoom} receivers; idle pollers hold wait=30 in one lobby room`)
  console.log(line(header))
  console.log(widths.map((width) => '-'.repeat(width)).join('  '))
  for (const row of rows) console.log(line(row))
  console.log(`API memory per idle waiter ((RSS with - RSS baseline) / ${settings.pollers}): ${perWaiterKiB.toFixed(1)} KiB, so ${(perWaiterKiB * 1000 / 1024).toFixed(1)} MiB per 1,000 idle pollers`)
}

await runBench(main, cleanup)
