import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { WebSocket } from 'ws'
import { hashPassword } from '../core/password.js'

const began = performance.now()

/** A line on stderr with the seconds since the bench started: what it is doing now, apart from the results. */
export function progress (message: string): void {
  process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1).padStart(5)} s] ${message}\n`)
}

/** A keep-alive HTTP client for one API; each instance has its own socket pool. */
export function createClient (baseUrl: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000 })
  const { hostname, port } = new URL(baseUrl)

  async function request<T = any> (method: string, path: string, options: { token?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<{ status: number, etag: string | undefined, body: T }> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    return await new Promise((resolve, reject) => {
      const req = http.request({ agent, hostname, port, method, path, headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          try {
            resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, body: (text === '' ? undefined : JSON.parse(text)) as T })
          } catch (error) {
            reject(error)
          }
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(payload)
    })
  }

  return {
    request,
    /** Drops every socket: requests in flight fail, which is how the bench stops its pollers. */
    close: () => agent.destroy()
  }
}

export type Client = ReturnType<typeof createClient>

/** The resident set size of a process, in MiB, from /proc (Linux). */
export async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) / 1024
}

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** The CPU time (user + system) a process has used so far, in seconds, from /proc (Linux). */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond
}

/**
 * The CPU time the whole machine has been busy so far (all cores: user, nice, system, irq, softirq, steal), in
 * seconds, from /proc/stat (Linux). Everything running counts: the measured processes, Postgres, Redis, the
 * bench itself, and anything else on the machine.
 */
export async function machineBusySeconds (): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n')
  const [, user, nice, system, , , irq, softirq, steal] = (cpu ?? '').trim().split(/\s+/).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicksPerSecond
}

/** The nearest-rank percentile of `samples` (0 < p ≤ 100); NaN when there are none. */
export function percentile (samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

/** The password of every user a bench seeds. */
export const password = 'Passw0rd!'

/**
 * One password hash for every seeded user, in the API's own format but with a small cost factor: logging in
 * thousands of users then takes seconds, and still goes through the real route.
 */
export async function cheapPasswordHash (): Promise<string> {
  return await hashPassword(password, { N: 1024, r: 8, p: 1 })
}

/** The queue of the bare pipeline (bench/bare-pipeline.ts), the yardstick of the throughput bench. */
export const bareQueueName = 'bare'

/**
 * Runs a bench's `main`, then every cleanup step in reverse (each on its own, so one failure does not skip the rest),
 * and exits: 1 if `main` threw or set `process.exitCode` to 1 (a bench whose own checks failed), else 0.
 */
export async function runBench (main: () => Promise<void>, cleanup: Array<() => unknown>): Promise<never> {
  let cleaned: Promise<void> | undefined
  const cleanUp = async () => await (cleaned ??= (async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step()
      } catch (error) {
        console.error('cleanup:', error)
      }
    }
    progress('cleaned up (processes stopped, database and Redis keys dropped)')
  })())
  // Stopped by hand (Ctrl-C) or by a supervisor: the run is abandoned, but its database and Redis keys still go.
  const interrupt = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping without a result`)
    cleanUp().finally(() => process.exit(130)).catch(() => {})
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  let failed = false
  try {
    await main()
  } catch (error) {
    failed = true
    console.error(error)
  } finally {
    await cleanUp()
  }
  process.exit(failed || process.exitCode === 1 ? 1 : 0)
}

/**
 * A CPU profile of a running Node process over a window of the bench's choosing (what `--cpu-prof` cannot: it covers
 * the whole life of the process, set-up included). SIGUSR1 opens the process's inspector on 127.0.0.1:9229 (so one
 * process at a time); `stop` writes the profile to `file`, for Chrome's DevTools or `speedscope`.
 */
export async function startProfile (pid: number): Promise<{ stop: (file: string) => Promise<void> }> {
  process.kill(pid, 'SIGUSR1')
  let target: string | undefined
  for (let tries = 0; target === undefined; tries++) {
    target = await fetch('http://127.0.0.1:9229/json/list')
      .then(async (response) => ((await response.json()) as Array<{ webSocketDebuggerUrl: string }>)[0]?.webSocketDebuggerUrl)
      .catch(() => undefined)
    if (target === undefined && tries > 100) throw new Error('the process opened no inspector')
    if (target === undefined) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const inspector = new WebSocket(target)
  await new Promise((resolve, reject) => { inspector.once('open', resolve); inspector.once('error', reject) })
  let next = 0
  const call = async (method: string): Promise<{ profile?: unknown }> => await new Promise((resolve) => {
    const id = ++next
    const onMessage = (data: unknown) => {
      const answer = JSON.parse(String(data)) as { id?: number, result: { profile?: unknown } }
      if (answer.id !== id) return
      inspector.off('message', onMessage)
      resolve(answer.result)
    }
    inspector.on('message', onMessage)
    inspector.send(JSON.stringify({ id, method }))
  })
  await call('Profiler.enable')
  await call('Profiler.start')
  return {
    async stop (file: string) {
      const { profile } = await call('Profiler.stop')
      await writeFile(file, JSON.stringify(profile))
      inspector.close()
    }
  }
}
