import { Cluster, Redis } from 'ioredis'
import type { Config } from './config.js'

/**
 * Every Redis connection of a process: one server's (REDIS_URL), or a Redis Cluster's (REDIS_CLUSTER_NODES). The two
 * answer the same commands; on a cluster, a command that names several keys must keep them in one hash slot.
 */
export type RedisClient = Redis | Cluster

/** The part of the config that says where Redis is. */
export type RedisLocation = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>

/** The seeds of REDIS_CLUSTER_NODES, or none: then REDIS_URL is the one Redis. */
export function clusterNodes (location: RedisLocation): Array<{ host: string, port: number }> {
  return location.REDIS_CLUSTER_NODES.split(',').map((node) => node.trim()).filter((node) => node !== '').map((node) => {
    const colon = node.lastIndexOf(':')
    return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) }
  })
}

interface ConnectionOptions {
  connectionName: string
  /** Refuse commands while disconnected (true), or queue them until Redis is back (false). */
  failFast: boolean
  /** Commands issued in the same tick go in one round trip. */
  autoPipelining?: boolean
  /** For a subscriber to sharded pub/sub: on a cluster, one connection per master takes the channels of its slots. */
  shardedSubscribers?: boolean
}

/** The one place a Redis connection is made, so every client follows REDIS_CLUSTER_NODES alike. */
function createRedis (location: RedisLocation, { connectionName, failFast, autoPipelining = false, shardedSubscribers = false }: ConnectionOptions): RedisClient {
  // null: a command waits through reconnects (BullMQ's workers require it); 1: it fails after one.
  const maxRetriesPerRequest = failFast ? 1 : null
  const nodes = clusterNodes(location)
  if (nodes.length === 0) {
    return new Redis(location.REDIS_URL, { connectionName, maxRetriesPerRequest, enableOfflineQueue: !failFast, enableAutoPipelining: autoPipelining })
  }
  // The cluster's own offline queue decides whether a command waits for the cluster; its connections to single nodes
  // connect lazily and must queue (ioredis sets that), and BullMQ reads maxRetriesPerRequest from their options.
  return new Cluster(nodes, {
    enableOfflineQueue: !failFast,
    enableAutoPipelining: autoPipelining,
    shardedSubscribers,
    redisOptions: { connectionName, maxRetriesPerRequest }
  })
}

/**
 * For the users cache, rate limits and readiness probes: with Redis down a command fails at once instead of
 * queueing, so the user list falls back to Postgres. No command timeout: on a busy machine a slow answer is still
 * an answer, and a timer measured against a loaded event loop would turn load into refusals.
 */
export function createFailFastRedis (location: RedisLocation, connectionName = 'pigeon-api', options: Pick<ConnectionOptions, 'autoPipelining'> = {}): RedisClient {
  return createRedis(location, { connectionName, failFast: true, ...options })
}

/**
 * For BullMQ (workers and producers) and subscribers: commands wait for Redis to come back. A producer on a
 * fail-fast connection that starts before Redis keeps its first failure for good, so producers wait too, and
 * callers that must not wait check `isConnected` first.
 */
export function createPatientRedis (location: RedisLocation, connectionName: string, options: Pick<ConnectionOptions, 'autoPipelining' | 'shardedSubscribers'> = {}): RedisClient {
  return createRedis(location, { connectionName, failFast: false, ...options })
}

export function isConnected (redis: RedisClient): boolean {
  return redis.status === 'ready'
}

/** Closes gracefully when Redis answers; drops the connection when it does not, so a shutdown never waits for it. */
export async function closeRedis (redis: RedisClient): Promise<void> {
  if (isConnected(redis)) await redis.quit()
  else redis.disconnect()
}

/** Resolves true once the connection is ready, or false after `ms`: a process may start before Redis does. */
export async function readyWithin (redis: RedisClient, ms: number): Promise<boolean> {
  if (isConnected(redis)) return true
  let onReady: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<boolean>((resolve) => {
      onReady = () => resolve(true)
      redis.once('ready', onReady)
      timer = setTimeout(resolve, ms, false)
    })
  } finally {
    clearTimeout(timer)
    if (onReady !== undefined) redis.off('ready', onReady)
  }
}
