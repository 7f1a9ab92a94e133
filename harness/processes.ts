import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { Config } from '../core/config.js'
import { spawnTied } from './tied-child.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** A real Pigeon process (api/main.ts or worker/main.ts) run from source, as production runs the built one. */
export interface PigeonProcess {
  pid: number
  /** Its last lines of output, for a failure message. */
  output: () => string
  /** SIGTERM (a graceful close), then SIGKILL if it does not exit in time. */
  stop: () => Promise<void>
  /** SIGKILL: a crash, with no chance to finish or hand back what it holds. Resolves once it has exited. */
  kill: () => Promise<void>
}

export interface ApiProcess extends PigeonProcess {
  url: string
}

/** The environment a process reads its config from (core/config.ts), for the deployment `config` describes. */
function environment (config: Config, overrides: Record<string, string>): NodeJS.ProcessEnv {
  // Not the whole parent environment: the test runner's (or bench's) own variables and hooks stay out of the child.
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: config.DATABASE_URL,
    DATABASE_REPLICA_URL: config.DATABASE_REPLICA_URL,
    DATABASE_REPLICA_RETRY_SECONDS: String(config.DATABASE_REPLICA_RETRY_SECONDS),
    REDIS_URL: config.REDIS_URL,
    REDIS_CLUSTER_NODES: config.REDIS_CLUSTER_NODES,
    REDIS_PREFIX: config.REDIS_PREFIX,
    JWT_SECRET: config.JWT_SECRET,
    ACCESS_TOKEN_TTL_SECONDS: String(config.ACCESS_TOKEN_TTL_SECONDS),
    WORKER_CONCURRENCY: String(config.WORKER_CONCURRENCY),
    LOG_LEVEL: 'warn',
    // The limits `config` has (out of reach unless the test or bench set its own).
    ...Object.fromEntries(Object.entries(config).filter(([name]) => /_LIMIT_|_PER_USER$/.test(name)).map(([name, value]) => [name, String(value)])),
    ...overrides
  }
}

/**
 * What production runs Node with (the Dockerfile's NODE_OPTIONS, `npm start`): a young generation large enough that a
 * burst of short-lived objects (a message fanned out to thousands of sockets) is collected in fewer, cheaper scavenges.
 */
const productionNodeArgs = ['--max-semi-space-size=64']

function run (entry: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): PigeonProcess & { child: ChildProcess } {
  // Tied to this process: a crashed test or bench run must not leave servers behind.
  const { child, stop } = spawnTied(process.execPath, [...productionNodeArgs, ...nodeArgs, '--import=tsx', entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let tail = ''
  const keep = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-8000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {
    child,
    pid: child.pid ?? -1,
    output: () => tail,
    async stop () {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await stop('SIGTERM')
      clearTimeout(timer)
    },
    kill: async () => await stop('SIGKILL')
  }
}

/** A TCP port nobody listens on right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

export interface StartApiOptions {
  /**
   * What to wait for: 'ready' (/health/ready is 200: Postgres and Redis answer) or 'live' (the process answers
   * HTTP at all, for a test that starts it while Postgres or Redis is away).
   */
  waitFor?: 'ready' | 'live'
  /** How long it may take, in ms; a machine kept busy on purpose needs longer than the default 30 s. */
  within?: number
  /** Flags for node itself (a benchmark's --cpu-prof, say). */
  nodeArgs?: string[]
}

/** Starts `node api/main.ts` on a free port and resolves once it answers as `options.waitFor` asks (ready by default). */
export async function startApi (config: Config, overrides: Record<string, string> = {}, options: StartApiOptions = {}): Promise<ApiProcess> {
  const { waitFor = 'ready', within = 90_000 } = options
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const api = run('api/main.ts', environment(config, { HOST: '127.0.0.1', PORT: String(port), ...overrides }), options.nodeArgs)
  const deadline = Date.now() + within
  for (;;) {
    if (api.child.exitCode !== null) throw new Error(`the API exited with ${api.child.exitCode}:\n${api.output()}`)
    const answered = await fetch(`${url}/health/${waitFor}`).then((response) => response.ok, () => false)
    if (answered) break
    if (Date.now() > deadline) {
      await api.stop()
      throw new Error(`the API did not answer /health/${waitFor} within ${within} ms:\n${api.output()}`)
    }
    await sleep(100)
  }
  return { pid: api.pid, output: api.output, stop: api.stop, kill: api.kill, url }
}

/** Starts `node worker/main.ts`; its workers pick up jobs as soon as they have connected to Redis. */
export function startWorker (config: Config, overrides: Record<string, string> = {}, nodeArgs: string[] = []): PigeonProcess {
  // No metrics server unless a test asks: several workers on one machine would fight over the port.
  const { pid, output, stop, kill } = run('worker/main.ts', environment(config, { WORKER_METRICS_PORT: '0', ...overrides }), nodeArgs)
  return { pid, output, stop, kill }
}
