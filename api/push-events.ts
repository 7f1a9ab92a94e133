import type { Message } from '../core/db/schema.js'
import type { Presence, Wakeup } from '../core/wakeups.js'
import type { FeedEvent } from './feed.js'
import { toMessageView } from './schemas/messages.js'
import type { TaskView } from './task-view.js'

/**
 * What a push channel (Server-Sent Events, WebSocket) sends: an event name, the same JSON a REST route
 * answers, and for feed events the cursor to resume from.
 */
export type PushEvent =
  | { type: 'message.created' | 'message.edited' | 'message.deleted', cursor: string, data: ReturnType<typeof toMessageView> }
  | { type: 'task.finished', data: TaskView }
  | { type: 'member.joined' | 'member.left', data: { roomId: number, userId: number } }
  | { type: 'read.updated', data: { roomId: number, seq: number } }
  /** Someone else in one of my rooms started (`typing: true`, standing for 10 s unless renewed) or stopped typing. */
  | { type: 'typing', data: { roomId: number, userId: number, typing: boolean } }
  /** The presence of someone who shares a room with me changed. */
  | { type: 'presence.changed', data: { userId: number, presence: Presence, lastActiveAt: string | null } }
  /** An event stream's last event, when the server ends it for a reason the client must act on. */
  | { type: 'end', data: StreamEnd }

export interface StreamEnd { code: 'TOKEN_EXPIRED' | 'SESSION_ENDED' | 'TOO_MANY_STREAMS', detail: string }

/** Why the server ends an event stream, and what the client does about it. */
export const streamEnds = {
  tokenExpired: { code: 'TOKEN_EXPIRED', detail: 'The access token expired: refresh it, then reconnect with the last event id.' },
  sessionEnded: { code: 'SESSION_ENDED', detail: 'This login has ended (logged out, or its password changed): log in again.' },
  replaced: { code: 'TOO_MANY_STREAMS', detail: 'You opened more event streams than one server keeps for a user: this, the oldest, was ended. Do not reconnect it on your own.' }
} as const satisfies Record<string, StreamEnd>

/**
 * A message's view, and its JSON, made once however many readers it goes to: a room read shared by the readers one
 * wake-up woke hands them the same message rows, so 2,000 sockets cost one view and one JSON.stringify, not 2,000.
 */
const views = new WeakMap<Message, ReturnType<typeof toMessageView>>()
const texts = new WeakMap<object, string>()

function jsonOf (data: object): string {
  let text = texts.get(data)
  if (text === undefined) texts.set(data, text = JSON.stringify(data))
  return text
}

/** A feed message's view, made once for every reader it goes to (a long poll's answer takes it too). */
export function feedMessageView (message: Message): ReturnType<typeof toMessageView> {
  let view = views.get(message)
  if (view === undefined) views.set(message, view = toMessageView(message))
  return view
}

/** A feed event (a new message, or an edit or delete of one the reader has, as it is now) and the cursor after it. */
export function fromFeedEvent (event: FeedEvent, cursor: string): PushEvent {
  return { type: event.type, cursor, data: feedMessageView(event.message) }
}

/** What a wake-up about one user tells that user's sockets, if anything (a finished task is read from the database first). */
export function fromUserWakeup (wakeup: Wakeup): PushEvent | undefined {
  if (wakeup.type === 'membership-changed' && wakeup.room !== undefined) {
    return { type: wakeup.room.change === 'joined' ? 'member.joined' : 'member.left', data: { roomId: wakeup.room.id, userId: wakeup.userId } }
  }
  if (wakeup.type === 'read-updated') return { type: 'read.updated', data: { roomId: wakeup.roomId, seq: wakeup.seq } }
  return fromRoomSignal(wakeup)
}

/** What a room's members hear that is not the feed: who types, and whose presence changed. Event streams send these too. */
export function fromRoomSignal (wakeup: Wakeup): PushEvent | undefined {
  if (wakeup.type === 'typing') return { type: 'typing', data: { roomId: wakeup.roomId, userId: wakeup.userId, typing: wakeup.typing } }
  if (wakeup.type === 'presence-changed') {
    return { type: 'presence.changed', data: { userId: wakeup.userId, presence: wakeup.presence, lastActiveAt: wakeup.lastActiveAt } }
  }
  return undefined
}

/** One Server-Sent Events frame: the cursor is the event id, so a reconnect's Last-Event-ID resumes after it. */
export function toSseFrame (event: PushEvent): string {
  const id = 'cursor' in event ? `id: ${event.cursor}\n` : ''
  return `${id}event: ${event.type}\ndata: ${jsonOf(event.data)}\n\n`
}

/** One WebSocket text frame: `{ type, cursor?, data }` (what JSON.stringify of the event gives, with `data`'s JSON made once). */
export function toSocketFrame (event: PushEvent): string {
  const cursor = 'cursor' in event ? `,"cursor":${JSON.stringify(event.cursor)}` : ''
  return `{"type":${JSON.stringify(event.type)}${cursor},"data":${jsonOf(event.data)}}`
}
