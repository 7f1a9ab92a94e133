import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { freePort } from './processes.js'
import type { Teardown } from './test-config.js'
import { spawnTied } from './tied-child.js'

const run = promisify(execFile)

export interface RedisCluster {
  /** The masters as REDIS_CLUSTER_NODES takes them: `127.0.0.1:port,…`. */
  nodes: string
  /** The port of the master that holds `key`'s slot. */
  masterOf: (key: string) => Promise<number>
  /**
   * SIGKILLs the master on `port` (it loses all its keys: nothing persists) and resolves once the other masters
   * have marked it failed and report `cluster_state:fail`: with no replica to take over, its slots are down.
   */
  crash: (port: number) => Promise<void>
  /**
   * Starts a crashed master again on its ports, empty, with its node id and slots (its nodes file is kept), and
   * resolves once every node reports `cluster_state:ok`.
   */
  revive: (port: number) => Promise<void>
  /** FLUSHALL on every master: the whole cluster loses all its keys. */
  flushAll: () => Promise<void>
  stop: () => Promise<void>
}

interface ClusterNode {
  port: number
  busPort: number
  /** SIGKILL: a crash. Resolves once it has exited. */
  kill: () => Promise<void>
}

/**
 * A throwaway Redis Cluster of three masters and no replicas, as redis's own create-cluster makes one: Debian's
 * redis-server on `masterPorts` (three; free ones unless a test chose them beforehand), each with a free cluster bus
 * port of its own, its files in a temporary folder, persisting nothing. Resolves once every node reports
 * `cluster_state:ok`.
 */
export async function startRedisCluster (masterPorts?: readonly number[]): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pigeon-redis-cluster-'))
  const servers: ClusterNode[] = []
  const stop = async () => {
    await Promise.all(servers.map(async (server) => await server.kill()))
    await rm(dir, { recursive: true, force: true })
  }
  const serverOn = (port: number) => {
    const server = servers.find((one) => one.port === port)
    if (server === undefined) throw new Error(`Redis Cluster: no node on port ${port}`)
    return server
  }
  const states = async (of: readonly ClusterNode[]) => await Promise.all(of.map(async (server) => await cli(server.port, 'cluster', 'info')))
  try {
    const ports = masterPorts ?? await distinctFreePorts(3)
    const busPorts = await distinctFreePorts(3, ports)
    for (let i = 0; i < 3; i++) servers.push(startNode(dir, ports[i] as number, busPorts[i] as number))
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`)
    await until('every node answers PING', async () => (await Promise.all(servers.map((server) => cli(server.port, 'ping')))).every((answer) => answer === 'PONG'))
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'])
    await until('every node reports cluster_state:ok', async () => (await states(servers)).every((info) => info.includes('cluster_state:ok')))
    return {
      nodes: addresses.join(','),
      async masterOf (key) {
        const slot = Number(await cli(servers[0]?.port ?? 0, 'cluster', 'keyslot', key))
        for (const server of servers) {
          // `<id> <address> myself,master … connected 0-5460 …`: the slot ranges this node serves.
          const myself = (await cli(server.port, 'cluster', 'nodes')).split('\n').find((line) => line.includes('myself'))
          const ranges = myself?.split(' ').slice(8) ?? []
          if (ranges.some((range) => {
            const [first, last = first] = range.split('-').map(Number)
            return first !== undefined && last !== undefined && first <= slot && slot <= last
          })) return server.port
        }
        throw new Error(`Redis Cluster: no master serves slot ${slot} of ${key}`)
      },
      async crash (port) {
        const server = serverOn(port)
        await server.kill()
        const others = servers.filter((one) => one !== server)
        await until(`the masters other than ${port} report cluster_state:fail`, async () =>
          (await states(others)).every((info) => info.includes('cluster_state:fail')))
      },
      async revive (port) {
        const crashed = serverOn(port)
        servers[servers.indexOf(crashed)] = startNode(dir, crashed.port, crashed.busPort)
        await until('every node reports cluster_state:ok again', async () => (await states(servers)).every((info) => info.includes('cluster_state:ok')))
      },
      async flushAll () {
        const answers = await Promise.all(servers.map(async (server) => await cli(server.port, 'flushall')))
        if (!answers.every((answer) => answer === 'OK')) throw new Error(`Redis Cluster: FLUSHALL answered ${answers.join(', ')}`)
      },
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** One master's redis-server, its cluster state in `nodes-<port>.conf` in `dir` (kept across a restart), its data nowhere. */
function startNode (dir: string, port: number, busPort: number): ClusterNode {
  const server = spawnTied('redis-server', [
    '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1',
    '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
    '--save', '', '--appendonly', 'no', '--dir', dir
  ], { stdio: 'ignore' })
  return { port, busPort, kill: async () => await server.stop() }
}

/**
 * The Redis Cluster a test file runs against: the one TEST_REDIS_CLUSTER_NODES names (CI starts it once for every
 * file), or else a throwaway one of the file's own, stopped at its teardown. Its REDIS_CLUSTER_NODES value.
 */
export async function testRedisCluster (t: Teardown): Promise<string> {
  const shared = process.env.TEST_REDIS_CLUSTER_NODES
  if (shared !== undefined && shared !== '') return shared
  const cluster = await startRedisCluster()
  t.teardown(cluster.stop)
  return cluster.nodes
}

/** Free ports, none twice and none of `taken` (a port just given back may be handed out again). */
export async function distinctFreePorts (count: number, taken: readonly number[] = []): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) {
    const port = await freePort()
    if (!taken.includes(port)) ports.add(port)
  }
  return [...ports]
}

/** redis-cli's answer, or '' when the server does not answer. */
async function cli (port: number, ...command: string[]): Promise<string> {
  return await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...command], { timeout: 5000 })
    .then(({ stdout }) => stdout.trim(), () => '')
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`Redis Cluster: not so within 30 s: ${what}`)
    await sleep(100)
  }
}
