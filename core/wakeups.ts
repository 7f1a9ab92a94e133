import type { RedisClient } from './redis.js'

/**
 * What workers and API processes tell waiting long-polls, through one Redis pub/sub channel.
 * Workers publish only after COMMIT, so a woken poller always finds what woke it.
 */
export type Wakeup =
  /** A message landed in a room: wake these members' feed waiters. `acceptedAt`: when the API took the send (ms). */
  | { type: 'room-message', roomId: number, seq: number, userIds: number[], acceptedAt: number }
  /** A task finished (completed or failed): wake its owner's task waiters. */
  | { type: 'task-finished', taskId: string, ownerId: number }
  /**
   * The user joined or left a room: their feed waiters re-read which rooms to wait on. `room` names who to tell
   * (the room's members, and the one who left): push sockets send it on as member.joined / member.left.
   */
  | { type: 'membership-changed', userId: number, room?: { id: number, change: 'joined' | 'left', memberIds: number[] } }
  /** A login's refresh tokens were revoked (logout, or a reused token): the sockets its access tokens opened close. */
  | { type: 'family-revoked', userId: number, familyId: string }
  /** The user's read watermark in a room moved (a read, or an acknowledgement applied): their sockets are told. */
  | { type: 'read-updated', userId: number, roomId: number, seq: number }

export function wakeupChannel (redisPrefix: string): string {
  return `${redisPrefix}:wakeups`
}

/** Publishes wake-ups in one round trip. */
export async function publishWakeups (redis: RedisClient, redisPrefix: string, wakeups: Wakeup[]): Promise<void> {
  if (wakeups.length === 0) return
  const channel = wakeupChannel(redisPrefix)
  const pipeline = redis.pipeline()
  for (const wakeup of wakeups) pipeline.publish(channel, JSON.stringify(wakeup))
  const results = await pipeline.exec()
  const failed = results?.find(([error]) => error !== null)?.[0]
  if (failed !== undefined && failed !== null) throw failed
}
