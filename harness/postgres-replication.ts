import { execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import pg from 'pg'
import type { Config } from '../core/config.js'
import { freePort } from './processes.js'
import { testConfig, type Teardown } from './test-config.js'
import { spawnTied } from './tied-child.js'

const run = promisify(execFile)

// Debian's server binaries live outside PATH; the newest installed major is the one the machine runs.
const debianBins = '/usr/lib/postgresql'

/** Postgres refuses to run as root, and so does pgbouncer: as root the servers here run as the `postgres` user. */
async function serverUser (): Promise<{ uid: number, gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

async function postgresBin (name: string): Promise<string> {
  const { stdout } = await run('ls', ['-v', debianBins]).catch(() => ({ stdout: '' }))
  const newest = stdout.trim().split('\n').filter((major) => major !== '').at(-1)
  const candidate = newest === undefined ? undefined : path.join(debianBins, newest, 'bin', name)
  return candidate !== undefined && existsSync(candidate) ? candidate : name
}

/** A server process started here, stopped by its own pid (and killed if the test process dies first). */
interface Server {
  port: number
  stop: () => Promise<void>
}

function startServer (command: string, args: string[], port: number, user: { uid: number, gid: number } | undefined, stopSignal: NodeJS.Signals): Server & { child: ChildProcess, output: () => string } {
  // Its working folder is one the server's user may enter (this checkout may not be).
  const { child, stop } = spawnTied(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir(), ...user })
  let tail = ''
  const keep = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return { child, port, output: () => tail, stop: async () => await stop(stopSignal) }
}

async function until (what: string, check: () => Promise<boolean>, server?: { output: () => string }): Promise<void> {
  const deadline = Date.now() + 60_000
  while (!await check().catch(() => false)) {
    if (Date.now() > deadline) throw new Error(`not so within 60 s: ${what}\n${server?.output() ?? ''}`)
    await sleep(100)
  }
}

/** One query on a connection of its own. */
export async function queryOnce<T = Record<string, unknown>> (url: string, text: string): Promise<T[]> {
  // A query through pgbouncer to a server that is away waits in its queue (query_wait_timeout, 2 minutes).
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, query_timeout: 5000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return (await client.query(text)).rows as T[]
  } finally {
    await client.end().catch(() => {})
  }
}

export interface ReplicatedPostgres {
  /** `postgres://postgres@127.0.0.1:port/postgres` of the primary and of its streaming replica. */
  primaryUrl: string
  replicaUrl: string
  /** Stops the replica (a fast shutdown), as an outage would; `startReplica` brings it back on the same port. */
  stopReplica: () => Promise<void>
  startReplica: () => Promise<void>
  stop: () => Promise<void>
}

/**
 * A throwaway primary and its streaming replica (hot standby), as an operator makes one: Debian's initdb into a
 * temporary folder, the primary on a free port, `pg_basebackup -R` of it for the replica on another. Nothing durable:
 * fsync off, everything removed by `stop`. The machine's own Postgres and its config are left alone.
 */
export async function startReplicatedPostgres (): Promise<ReplicatedPostgres> {
  const user = await serverUser()
  const dir = await mkdtemp(path.join(tmpdir(), 'pigeon-postgres-'))
  if (user !== undefined) await chown(dir, user.uid, user.gid)
  const [primaryDir, replicaDir] = [path.join(dir, 'primary'), path.join(dir, 'replica')]
  const servers: Server[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  const postgres = await postgresBin('postgres')
  const urlOf = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`
  const startPostgres = async (dataDir: string, port: number, isReplica: boolean) => {
    const server = startServer(postgres, [
      '-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      // Room for the API and worker pools of a multi-process test, and for pgbouncer's.
      '-c', 'max_connections=300'
    ], port, user, 'SIGINT')
    servers.push(server)
    await until(`Postgres on port ${port} answers`, async () => {
      const [row] = await queryOnce<{ standby: boolean }>(urlOf(port), 'select pg_is_in_recovery() as standby')
      return row?.standby === isReplica
    }, server)
    return server
  }

  try {
    const [primaryPort, replicaPort] = await distinctFreePorts(2) as [number, number]
    await run(await postgresBin('initdb'), ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { cwd: dir, ...user })
    await startPostgres(primaryDir, primaryPort, false)
    // initdb's pg_hba.conf lets 127.0.0.1 replicate with the same (trust) method.
    await run(await postgresBin('pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'], { cwd: dir, ...user })
    let replica = await startPostgres(replicaDir, replicaPort, true)
    return {
      primaryUrl: urlOf(primaryPort),
      replicaUrl: urlOf(replicaPort),
      async stopReplica () {
        await replica.stop()
        servers.splice(servers.indexOf(replica), 1)
      },
      async startReplica () { replica = await startPostgres(replicaDir, replicaPort, true) },
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}

export interface Pgbouncer extends Server {
  /** The URL of `database` through the pooler. */
  urlOf: (database: string) => string
}

/**
 * Debian's pgbouncer in transaction pooling mode on a free port, in front of the databases given (the name clients
 * ask for → where it is), trusting every client as Postgres here does.
 */
export async function startPgbouncer (databases: Record<string, { port: number, dbname: string }>): Promise<Pgbouncer> {
  const user = await serverUser()
  const dir = await mkdtemp(path.join(tmpdir(), 'pigeon-pgbouncer-'))
  if (user !== undefined) await chown(dir, user.uid, user.gid)
  const port = await freePort()
  await writeFile(path.join(dir, 'userlist.txt'), '"postgres" ""\n')
  await writeFile(path.join(dir, 'pgbouncer.ini'), [
    '[databases]',
    ...Object.entries(databases).map(([name, target]) => `${name} = host=127.0.0.1 port=${target.port} dbname=${target.dbname}`),
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 2000',
    'default_pool_size = 20',
    // A server that went away is tried again soon, not after the default 15 s.
    'server_login_retry = 1',
    ''
  ].join('\n'))
  const server = startServer('pgbouncer', [path.join(dir, 'pgbouncer.ini')], port, user, 'SIGINT')
  const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`
  const stop = async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const [first] = Object.keys(databases)
    await until(`pgbouncer on port ${port} answers`, async () => (await queryOnce(urlOf(first ?? 'postgres'), 'select 1')).length === 1, server)
  } catch (error) {
    await stop()
    throw error
  }
  return { port, urlOf, stop }
}

/**
 * A config of this test file's own whose database lives on a throwaway primary with a streaming replica, reached
 * through pgbouncer in transaction mode: DATABASE_URL to the primary and DATABASE_REPLICA_URL to the replica, both
 * through the pooler, as a deployment that uses both would. Migrations ran straight against the primary (kysely's
 * migration lock is a session lock). Everything is stopped and removed at teardown.
 */
export async function testPooledReplicatedConfig (t: Teardown, overrides: Record<string, string> = {}): Promise<Config & { servers: ReplicatedPostgres }> {
  const servers = await startReplicatedPostgres()
  t.teardown(servers.stop)
  const config = await testConfig(t, overrides, servers.primaryUrl)
  const dbname = new URL(config.DATABASE_URL).pathname.slice(1)
  const port = (url: string) => Number(new URL(url).port)
  const bouncer = await startPgbouncer({
    [dbname]: { port: port(servers.primaryUrl), dbname },
    [`${dbname}_replica`]: { port: port(servers.replicaUrl), dbname }
  })
  t.teardown(bouncer.stop)
  return { ...config, DATABASE_URL: bouncer.urlOf(dbname), DATABASE_REPLICA_URL: bouncer.urlOf(`${dbname}_replica`), servers }
}

/** Free ports, none twice. */
async function distinctFreePorts (count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) ports.add(await freePort())
  return [...ports]
}
