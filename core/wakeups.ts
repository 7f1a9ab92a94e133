import type { RedisClient } from './redis.js'

/**
 * What workers and API processes tell the instances that hold a waiting poll, stream or socket, over Redis sharded
 * pub/sub (SPUBLISH/SSUBSCRIBE: on a Redis Cluster each channel lives on the shard its name hashes to, and only that
 * shard carries it). Each wake-up goes to the narrowest channels that reach the people it concerns: a room's news on
 * the room's channel, a user's own news on the user's channel. An instance subscribes to a channel only while it holds
 * someone it concerns. Workers publish only after COMMIT, so a woken reader always finds what woke it.
 */
export type Wakeup =
  /** A message landed in a room, or one of its messages was edited or deleted. `acceptedAt`: when the API took it (ms). */
  | { type: 'room-message', roomId: number, seq: number, acceptedAt: number }
  /**
   * A task finished (completed or failed): wake its owner's task waiters. `answer`: the finished task and its message
   * as the worker that finished it read them back (rows as JSON), when it had them, so a waiter can answer without
   * reading the task again (core/tasks.ts, finishedTaskFromJson).
   */
  | { type: 'task-finished', taskId: string, ownerId: number, answer?: FinishedTaskJson }
  /**
   * The user joined or left a room, or was added or removed: their feed readers re-read which rooms they are in. With
   * `room`, the room's members are told too (their sockets send it on as member.joined / member.left).
   */
  | { type: 'membership-changed', userId: number, room?: { id: number, change: 'joined' | 'left' } }
  /** A login's refresh tokens were revoked (logout, or a reused token): the sockets its access tokens opened close. */
  | { type: 'family-revoked', userId: number, familyId: string }
  /** The user's read watermark in a room moved (a read, or an acknowledgement applied): their sockets are told. */
  | { type: 'read-updated', userId: number, roomId: number, seq: number }
  /** The user started or stopped typing in a room: the room's other members' sockets and streams are told. */
  | { type: 'typing', roomId: number, userId: number, typing: boolean }
  /**
   * The user's presence changed (`at`, ms: when it was seen to change), told on each of their rooms' channels: the
   * members' instances tell each member once, however many rooms they share.
   */
  | { type: 'presence-changed', roomId: number, userId: number, presence: Presence, lastActiveAt: string | null, at: number }

/** A finished task as JSON: the task's answered columns (answeredTaskColumns) and its message's, or null. */
export interface FinishedTaskJson { task: Record<string, unknown>, message: Record<string, unknown> | null }

/** What a user is, as others see it: what the server sees of their connections, unless they set a status by hand. */
export type Presence = 'online' | 'idle' | 'busy' | 'offline'

/** A room's channel: its new and changed messages, who joined or left it, who types in it, its members' presence. */
export function roomChannel (redisPrefix: string, roomId: number): string {
  return `${redisPrefix}:room:${roomId}`
}

/** A user's channel: their tasks, logins, read watermarks and rooms. */
export function userChannel (redisPrefix: string, userId: number): string {
  return `${redisPrefix}:user:${userId}`
}

/** What a channel's name says it carries, or nothing for a name this prefix did not make. */
export function channelTarget (redisPrefix: string, channel: string): { kind: 'room' | 'user', id: number } | undefined {
  const match = /^(room|user):(\d+)$/.exec(channel.startsWith(`${redisPrefix}:`) ? channel.slice(redisPrefix.length + 1) : '')
  return match === null ? undefined : { kind: match[1] as 'room' | 'user', id: Number(match[2]) }
}

/** The channels a wake-up goes to. A membership change goes to the user, and to the room for its other members. */
export function channelsOf (redisPrefix: string, wakeup: Wakeup): string[] {
  switch (wakeup.type) {
    case 'room-message':
    case 'typing':
    case 'presence-changed': return [roomChannel(redisPrefix, wakeup.roomId)]
    case 'task-finished': return [userChannel(redisPrefix, wakeup.ownerId)]
    case 'membership-changed': return [
      userChannel(redisPrefix, wakeup.userId),
      ...(wakeup.room === undefined ? [] : [roomChannel(redisPrefix, wakeup.room.id)])
    ]
    default: return [userChannel(redisPrefix, wakeup.userId)]
  }
}

/**
 * Publishes wake-ups, all at once. Not one pipeline: on a Redis Cluster the channels hash to different shards, and a
 * cluster client refuses a pipeline across slots; commands issued in one tick still leave in one write per shard.
 */
export async function publishWakeups (redis: RedisClient, redisPrefix: string, wakeups: Wakeup[]): Promise<void> {
  await Promise.all(wakeups.flatMap((wakeup) => {
    const message = JSON.stringify(wakeup)
    return channelsOf(redisPrefix, wakeup).map(async (channel) => await redis.spublish(channel, message))
  }))
}
