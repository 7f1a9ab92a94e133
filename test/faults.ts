import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { Db } from '../core/db/connect.js'
import { taskKinds } from '../core/db/schema.js'
import { mapLimit } from '../harness/map-limit.js'
import { freePort, type ApiProcess, type PigeonProcess } from '../harness/processes.js'
import { spawnTied } from '../harness/tied-child.js'
import { isProblem } from './helper.js'
import { call, type Answer, type User } from './http-client.js'
import { settle } from './messaging-helper.js'

// The pieces that fault-injection tests share: servers to crash, a network to cut, a machine to keep busy, and
// bursts of sends whose every outcome is checked.

/** The environment every Pigeon process of a fault test gets: unfinished tasks are re-checked each second, not each 15 s. */
export const faultEnv = { RECONCILE_INTERVAL_SECONDS: '1' }

/** When the test fails, prints the last output of the processes `current` names then (to stderr, beside tap's report). */
export function printOutputOnFailure (t: Test, current: () => Record<string, PigeonProcess>): void {
  t.teardown(() => {
    if (t.passing()) return
    for (const [name, child] of Object.entries(current())) process.stderr.write(`--- ${name} (pid ${child.pid}), last output:\n${child.output()}\n`)
  })
}

/** The answer to `request`, or a failure if none came within 15 s: shows a request does not hang, without timing it. */
export async function answersUnhung<T> (request: Promise<T>): Promise<T> {
  const controller = new AbortController()
  const hung = sleep(15_000, undefined, { signal: controller.signal })
    .then(() => { throw new Error('no answer within 15 s: the request hangs') })
  try {
    return await Promise.race([request, hung])
  } finally {
    controller.abort()
    hung.catch(() => {})
  }
}

// ---------------------------------------------------------------- Redis

export interface RedisServer {
  port: number
  url: string
  /** SIGKILL: Redis dies with whatever it held in memory (these servers persist nothing). Resolves once it has exited. */
  kill: () => Promise<void>
}

/**
 * A redis-server of the test's own on `port` (a free one by default), persisting nothing (`--save "" --appendonly no`),
 * so killing it loses its data and a restart on the same port comes back empty. Resolves once it answers PING.
 */
export async function startRedis (port?: number): Promise<RedisServer> {
  const onPort = port ?? await freePort()
  const { child, stop } = spawnTied('redis-server', ['--port', String(onPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const kill = async () => await stop('SIGKILL')
  const deadline = Date.now() + 10_000
  while (!await pongs(onPort)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await kill()
      throw new Error(`redis-server did not start on port ${onPort}`)
    }
    await sleep(50)
  }
  return { port: onPort, url: `redis://127.0.0.1:${onPort}`, kill }
}

/** Whether a Redis answers PING on `port` (spoken in RESP over a bare socket, so no client library retries for us). */
async function pongs (port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1')
  socket.setTimeout(1000, () => socket.destroy())
  let answer = ''
  try {
    await once(socket, 'connect')
    socket.write('PING\r\n')
    for await (const chunk of socket) {
      answer += String(chunk)
      if (answer.includes('\r\n')) break
    }
  } catch {
    return false
  } finally {
    socket.destroy()
  }
  return answer.startsWith('+PONG')
}

// ---------------------------------------------------------------- a network between a process and Postgres

export interface TcpProxy {
  port: number
  /** Ends every open connection at once and refuses (accepts, then drops) new ones: the other side is unreachable. */
  cut: () => void
  /** Connects and pipes again. */
  restore: () => void
  close: () => Promise<void>
}

/**
 * A TCP proxy on a free port in front of `target`, for cutting one process off (say, a worker from Postgres) while
 * everything else keeps its direct connection. It keeps listening while cut, so its port is never taken by another.
 */
export async function startTcpProxy (target: { host: string, port: number }, options: { accepting?: boolean } = {}): Promise<TcpProxy> {
  let accepting = options.accepting ?? true
  const open = new Set<Socket>()
  const server = createServer((client) => {
    if (!accepting) {
      client.destroy()
      return
    }
    const upstream = connect(target.port, target.host)
    for (const [socket, other] of [[client, upstream], [upstream, client]] as const) {
      open.add(socket)
      socket.on('error', () => other.destroy())
      socket.on('close', () => {
        open.delete(socket)
        other.destroy()
      })
      socket.pipe(other)
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const cut = () => {
    accepting = false
    for (const socket of open) socket.destroy()
  }
  return {
    port,
    cut,
    restore () { accepting = true },
    async close () {
      cut()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** `url` (a postgres:// or redis:// URL) reaching its server through `proxy` instead. */
export function throughProxy (url: string, proxy: TcpProxy): string {
  const proxied = new URL(url)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(proxy.port)
  return proxied.toString()
}

/** Where a postgres:// or redis:// URL points. */
export function hostAndPort (url: string, defaultPort: number): { host: string, port: number } {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: parsed.port === '' ? defaultPort : Number(parsed.port) }
}

// ---------------------------------------------------------------- a busy machine

/** `count` processes spinning on a CPU each, until `stop`: every Pigeon process then competes for its time slices. */
export function startCpuBurners (count: number): { stop: () => Promise<void> } {
  const burners = Array.from({ length: count }, () => spawnTied(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
  return { stop: async () => { await Promise.all(burners.map(async (burner) => await burner.stop())) } }
}

// ---------------------------------------------------------------- sends and what became of them

/** One send as its sender saw it: the answer, or why there was none (`status` 0). */
export interface Sent {
  text: string
  status: number
  body: any
  problem: boolean
  taskId?: string
  error?: string
}

export async function send (api: ApiProcess, from: User, roomId: number, text: string, headers: Record<string, string> = {}): Promise<Sent> {
  try {
    const answer = await call(api, 'POST', `/v1/rooms/${roomId}/messages`, { token: from.token, body: { text }, headers })
    return { text, status: answer.status, body: answer.body, problem: isProblem(answer, answer.status), taskId: answer.status === 202 ? answer.body.taskId : undefined }
  } catch (error) {
    return { text, status: 0, body: undefined, problem: false, error: String(error) }
  }
}

/** The sends that answered 202, each with its task id. */
export function acceptedOf (results: readonly Sent[]): Accepted[] {
  return results.flatMap((sent) => sent.status === 202 && typeof sent.taskId === 'string' ? [{ text: sent.text, taskId: sent.taskId }] : [])
}

export interface Accepted {
  text: string
  taskId: string
}

export interface Burst {
  /** Every send's outcome, in the order of the texts, once all have answered. */
  results: Promise<Sent[]>
  /** The outcomes so far, in the order they came. */
  soFar: () => readonly Sent[]
  /** How many sends have answered 202 so far. */
  accepted: () => number
}

/** Sends `texts` to a room, `concurrency` at a time, like a busy client would; watch it go with `accepted()` and `soFar()`. */
export function sendMany (api: ApiProcess, from: User, roomId: number, texts: readonly string[], concurrency: number): Burst {
  const answered: Sent[] = []
  const results = mapLimit(texts, concurrency, async (text) => {
    const sent = await send(api, from, roomId, text)
    answered.push(sent)
    return sent
  })
  return { results, soFar: () => answered, accepted: () => answered.filter((sent) => sent.status === 202).length }
}

/**
 * The sends that got neither a 202 nor the plain refusal of a send the queue cannot take (503 problem+json
 * QUEUE_UNAVAILABLE): while Redis is away, those two are the only answers a send may get.
 */
export function neitherAcceptedNorRefused (results: readonly Sent[]) {
  return results
    .filter((sent) => sent.status !== 202 && !(sent.status === 503 && sent.problem && sent.body.code === 'QUEUE_UNAVAILABLE'))
    .map((sent) => ({ text: sent.text, status: sent.status, body: sent.body, error: sent.error }))
}

/** `count` distinct texts, so each stored message can be traced back to its send. */
export function texts (label: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${label} #${i + 1}`)
}

/** The task as its owner sees it, once finished, or as it stands at `deadline` (GET /v1/tasks/:id?wait=, polled). */
export async function finishedTask (api: ApiProcess, owner: User, taskId: string, deadline = Date.now() + 60_000): Promise<Answer> {
  const read = async (): Promise<Answer> => {
    const wait = Math.max(0, Math.min(10, Math.floor((deadline - Date.now()) / 1000)))
    return await call(api, 'GET', `/v1/tasks/${taskId}?wait=${wait}`, { token: owner.token })
      .catch((error: unknown) => ({ status: 0, contentType: '', etag: null, body: String(error) }))
  }
  return await settle(read, (answer) => answer.status === 200 && ['completed', 'failed'].includes(answer.body.state), deadline - Date.now())
}

/** Sends one message and waits until a worker stored it: the deployment works end to end before a fault is made. */
export async function sendAndWait (api: ApiProcess, from: User, roomId: number, text: string, within = 60_000): Promise<Accepted> {
  const sent = await send(api, from, roomId, text)
  if (sent.taskId === undefined) throw new Error(`send: ${sent.status} ${JSON.stringify(sent.body)} ${sent.error ?? ''}`)
  const task = await finishedTask(api, from, sent.taskId, Date.now() + within)
  if (task.body?.state !== 'completed') throw new Error(`the send did not complete: ${task.status} ${JSON.stringify(task.body)}`)
  return { text, taskId: sent.taskId }
}

export interface StoredMessage {
  id: number
  seq: number
  /** null for a deleted message */
  text: string | null
  task_id: string
}

export async function storedMessages (db: Db, roomId: number): Promise<StoredMessage[]> {
  return await db.selectFrom('messages').select(['id', 'seq', 'text', 'task_id']).where('room_id', '=', roomId).orderBy('seq').execute()
}

/** How many send tasks Postgres holds in each state. */
export async function sendTaskStates (db: Db): Promise<Record<string, number>> {
  const rows = await db.selectFrom('tasks').select(['state', (eb) => eb.fn.countAll<string>().as('n')])
    .where('kind', '=', taskKinds.sendMessage).groupBy('state').execute()
  return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]))
}

/**
 * The promise of a 202, checked from every side once the room has (or `within` ms passed without) as many messages
 * as sends were accepted: each accepted send is stored exactly once, with its own text, under its task id; the room's
 * seqs are exactly 1..n; nothing else was stored; every task answers `completed` with its message, and Postgres
 * holds each of them as completed, none failed.
 */
export async function assertEachAcceptedStoredOnce (t: Test, options: {
  api: ApiProcess
  db: Db
  sender: User
  roomId: number
  accepted: readonly Accepted[]
  within: number
}): Promise<void> {
  const { api, db, sender, roomId, accepted, within } = options
  const deadline = Date.now() + within
  const n = accepted.length
  const stored = await settle(() => storedMessages(db, roomId), (rows) => rows.length >= n, within)
  t.equal(stored.length, n, `the room holds one message per accepted send (${n})`)
  t.same(stored.map((row) => row.seq), Array.from({ length: stored.length }, (_, i) => i + 1), 'seqs are gapless from 1')

  const byTask = new Map(stored.map((row) => [row.task_id, row]))
  const missing = accepted.filter((sent) => byTask.get(sent.taskId)?.text !== sent.text)
  t.same(missing.slice(0, 5).map((sent) => sent.text), [], `every accepted send is stored under its task id (${missing.length} are not)`)
  const acceptedIds = new Set(accepted.map((sent) => sent.taskId))
  const strays = stored.filter((row) => !acceptedIds.has(row.task_id))
  t.same(strays.slice(0, 5).map((row) => row.text), [], `nothing stored under a task id other than the accepted ones (${strays.length} are)`)

  const answers = await mapLimit(accepted, 20, async (sent) => ({ sent, answer: await finishedTask(api, sender, sent.taskId, deadline) }))
  const unfinished = answers.filter(({ sent, answer }) =>
    answer.status !== 200 || answer.body.state !== 'completed' || answer.body.result?.id !== byTask.get(sent.taskId)?.id)
  t.same(unfinished.slice(0, 5).map(({ sent, answer }) => ({ text: sent.text, status: answer.status, state: answer.body?.state, error: answer.body?.error ?? answer.body?.code })), [],
    `every accepted task answers completed with its message (${unfinished.length} do not)`)
  t.same(await sendTaskStates(db), { completed: n }, 'Postgres holds every accepted task as completed, none failed')
}
