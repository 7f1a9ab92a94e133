import type { Redis } from 'ioredis'

/**
 * What workers and API processes tell waiting long-polls, through one Redis pub/sub channel.
 * Workers publish only after COMMIT, so a woken poller always finds what woke it.
 */
export type Wakeup =
  /** A message landed in a room: wake these members' feed waiters. `acceptedAt`: when the API took the send (ms). */
  | { type: 'room-message', roomId: number, seq: number, userIds: number[], acceptedAt: number }
  /** A task finished (completed or failed): wake its owner's task waiters. */
  | { type: 'task-finished', taskId: string, ownerId: number }
  /** The user joined or left a room: their feed waiters re-read which rooms to wait on. */
  | { type: 'membership-changed', userId: number }

export function wakeupChannel (redisPrefix: string): string {
  return `${redisPrefix}:wakeups`
}

export async function publishWakeup (redis: Redis, redisPrefix: string, wakeup: Wakeup): Promise<void> {
  await redis.publish(wakeupChannel(redisPrefix), JSON.stringify(wakeup))
}
