import { Redis } from 'ioredis'

/**
 * For request paths (cache, idempotency keys, enqueueing): with Redis down a command fails at once
 * instead of queueing, so a send answers 503 quickly and the user list falls back to Postgres.
 */
export function createFailFastRedis (url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectionName: 'pigeon-api'
  })
}

/** For BullMQ workers and subscribers: commands wait for Redis to come back (BullMQ requires this). */
export function createPatientRedis (url: string, connectionName: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName })
}
