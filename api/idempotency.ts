import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

const keepSeconds = 48 * 3600

export type Claim =
  | { outcome: 'new' }
  | { outcome: 'replay', taskId: string }
  | { outcome: 'conflict' }

/**
 * Claims an Idempotency-Key for one user (SET NX, kept 48 h). The first request with the key gets 'new'
 * and its task id is stored; a retry with the same request gets that task back; the same key with a
 * different request is a conflict.
 */
export async function claimIdempotencyKey (redis: Redis, options: {
  prefix: string
  userId: number
  key: string
  request: unknown
  taskId: string
}): Promise<Claim> {
  const redisKey = `${options.prefix}:idempotency:${options.userId}:${sha256(options.key)}`
  const fingerprint = sha256(JSON.stringify(options.request))
  const claimed = await redis.set(redisKey, JSON.stringify({ taskId: options.taskId, fingerprint }), 'EX', keepSeconds, 'NX')
  if (claimed === 'OK') return { outcome: 'new' }
  const stored = await redis.get(redisKey)
  if (stored === null) return { outcome: 'new' }
  const earlier = JSON.parse(stored) as { taskId: string, fingerprint: string }
  return earlier.fingerprint === fingerprint ? { outcome: 'replay', taskId: earlier.taskId } : { outcome: 'conflict' }
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}
