/**
 * WebSocket benchmark: what holding thousands of idle, authenticated sockets costs the API process in memory,
 * and how long one message to a room of all of them takes to reach every socket.
 *
 *   npm run bench:sockets -- [--sockets=2000]
 *
 * Runs its own deployment (a fresh database and Redis prefix, dropped at the end): one API process and one
 * worker process, started from source as children so the API's memory can be read from /proc. Each socket is
 * a user of its own, in one big room; each holds its feed (a waiter) and nothing else happens.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { WebSocket } from 'ws'
import { createDb } from '../core/db/connect.js'
import { mapLimit } from '../harness/map-limit.js'
import { startApi, startWorker } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { cheapPasswordHash, createClient, password, percentile, progress, rssMiB } from './support.js'

const { values: args } = parseArgs({ options: { sockets: { type: 'string', default: '2000' } } })
const sockets = Number(args.sockets)

const cleanup: Array<() => unknown> = []

async function metric (url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)
  return match === null ? Number.NaN : Number(match[1])
}

async function main (): Promise<void> {
  const config = await testConfig({ teardown: (fn) => cleanup.push(fn) }, { ACCESS_TOKEN_TTL_SECONDS: '3600', LOG_LEVEL: 'warn' })
  const api = await startApi(config)
  cleanup.push(() => api.stop())
  const worker = startWorker(config)
  cleanup.push(() => worker.stop())

  // Users and the room straight into Postgres: the bench measures sockets, not sign-ups.
  const db = createDb(config.DATABASE_URL, { max: 2 })
  cleanup.push(() => db.destroy())
  const names = ['sender', ...Array.from({ length: sockets }, (_, i) => `idle_${i + 1}`)]
  const { rows } = await sql<{ id: number, username: string }>`
    insert into users (username, password_hash, display_name)
    select name, ${await cheapPasswordHash()}, name from unnest(${names}::text[]) as name
    returning id, username`.execute(db)
  const room = await db.insertInto('rooms').values({ kind: 'group', name: 'lobby' }).returning('id').executeTakeFirstOrThrow()
  await sql`insert into room_members (room_id, user_id) select ${room.id}, unnest(${rows.map((row) => row.id)}::bigint[])`.execute(db)

  const control = createClient(api.url)
  cleanup.push(() => control.close())
  const tokens = new Map<string, string>()
  await mapLimit(names, 32, async (username) => {
    const response = await control.request('POST', '/v1/auth/token', { body: { username, password } })
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status}`)
    tokens.set(username, response.body.accessToken)
  })
  progress(`seeded and logged in ${names.length} users`)

  await sleep(2000)
  const rssBefore = await rssMiB(api.pid)

  const wsUrl = `${api.url.replace('http', 'ws')}/v1/ws`
  const delivered: number[] = []
  let sentAt = 0
  const clients = await mapLimit(names.slice(1), 100, async (username) => {
    const socket = new WebSocket(wsUrl, ['pigeon.v1', `bearer.${tokens.get(username) as string}`])
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'message.created') delivered.push(performance.now() - sentAt)
    })
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
    return socket
  })
  cleanup.push(() => { for (const socket of clients) socket.terminate() })
  while (await metric(api.url, 'pigeon_websockets_open') < sockets) await sleep(200)
  progress(`${sockets} sockets open`)
  await sleep(3000)
  const rssIdle = await rssMiB(api.pid)

  sentAt = performance.now()
  const sent = await control.request('POST', `/v1/rooms/${room.id}/messages`, { token: tokens.get('sender'), body: { text: 'to everyone' } })
  if (sent.status !== 202) throw new Error(`send: ${sent.status}`)
  const deadline = performance.now() + 30_000
  while (delivered.length < sockets && performance.now() < deadline) await sleep(50)
  const rssAfterFanOut = await rssMiB(api.pid)

  const row = (what: string, value: string) => console.log(`| ${what} | ${value} |`)
  console.log(`\nAPI process, ${sockets} idle authenticated WebSockets (one user each, all in one room):\n`)
  console.log('| | |\n| --- | --- |')
  row('RSS before the sockets', `${rssBefore.toFixed(1)} MiB`)
  row('RSS with the sockets idle', `${rssIdle.toFixed(1)} MiB`)
  row('per idle socket', `${(((rssIdle - rssBefore) * 1024) / sockets).toFixed(1)} KiB`)
  row('RSS after one message to all of them', `${rssAfterFanOut.toFixed(1)} MiB`)
  row('message delivered to', `${delivered.length} of ${sockets} sockets`)
  row('send → pushed, p50 / p99 / last', `${percentile(delivered, 50).toFixed(0)} / ${percentile(delivered, 99).toFixed(0)} / ${Math.max(...delivered).toFixed(0)} ms`)
}

try {
  await main()
} finally {
  for (const fn of cleanup.reverse()) await fn()
}
