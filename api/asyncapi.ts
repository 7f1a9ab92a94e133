import { Type, type TSchema } from 'typebox'
import packageJson from '../package.json' with { type: 'json' }
import type { PushEvent } from './push-events.js'
import { ProblemSchema } from './schemas/common.js'
import { exampleFeedCursor, MessageSchema } from './schemas/messages.js'
import { TaskSchema } from './schemas/tasks.js'
import { PresenceReportSchema, PresenceSchema } from './schemas/users.js'
import { DateTimeSchema } from './schemas/common.js'
import { CloseCode, socketProtocol } from './socket-session.js'

/**
 * The push protocol (`/v1/ws` frames both ways, `/v1/events` Server-Sent Events) as an AsyncAPI 3.0 document, its
 * payloads the TypeBox schemas the REST routes answer with. It describes the server: it sends events and answers,
 * and receives the auth and request frames.
 *
 * To add an event: add it to `PushEvent` (api/push-events.ts), then here to `pushEvents` (the type check fails until
 * you do), saying which channels carry it and the schema of its `data`. The rest of the document follows.
 */

interface PushEventDoc {
  summary: string
  /** The event's `data`, as a REST route would answer it. */
  data: TSchema
  /** Whether it carries a feed cursor to resume from (the socket frame's `cursor`, the stream event's `id`). */
  cursor: boolean
  /** The channels that carry it: the WebSocket, the event stream, or both. */
  on: ReadonlyArray<'socket' | 'stream'>
}

const RoomMemberSchema = Type.Object({
  roomId: Type.Integer({ minimum: 1, examples: [3] }),
  userId: Type.Integer({ minimum: 1, examples: [2] })
})

export const pushEvents = {
  'message.created': { summary: 'A new message in one of my rooms, from someone else', data: MessageSchema, cursor: true, on: ['socket', 'stream'] },
  'message.edited': { summary: 'A message I already have was edited: replace it by id', data: MessageSchema, cursor: true, on: ['socket', 'stream'] },
  'message.deleted': { summary: 'A message I already have was deleted (its text is null): replace it by id', data: MessageSchema, cursor: true, on: ['socket', 'stream'] },
  'task.finished': { summary: 'A task of mine (a send, an edit, a delete) finished, as `GET /v1/tasks/{id}` answers it', data: TaskSchema, cursor: false, on: ['socket'] },
  'member.joined': { summary: 'Someone joined one of my rooms (or I joined one)', data: RoomMemberSchema, cursor: false, on: ['socket'] },
  'member.left': { summary: 'Someone left one of my rooms (or I left one)', data: RoomMemberSchema, cursor: false, on: ['socket'] },
  'read.updated': {
    summary: 'My read watermark in a room moved (`POST /read`, or an acknowledgement)',
    data: Type.Object({ roomId: Type.Integer({ minimum: 1, examples: [3] }), seq: Type.Integer({ minimum: 0, examples: [42] }) }),
    cursor: false,
    on: ['socket']
  },
  typing: {
    summary: 'Someone else in one of my rooms started typing (standing for 10 s unless said again) or stopped',
    data: Type.Object({ ...RoomMemberSchema.properties, typing: Type.Boolean() }),
    cursor: false,
    on: ['socket', 'stream']
  },
  'presence.changed': {
    summary: 'The presence of someone who shares a room with me changed',
    data: Type.Object({
      userId: Type.Integer({ minimum: 1, examples: [2] }),
      presence: PresenceSchema,
      lastActiveAt: Type.Union([DateTimeSchema, Type.Null()])
    }),
    cursor: false,
    on: ['socket', 'stream']
  },
  end: {
    summary: 'The stream\'s last event, when the server ends it for a reason the client must act on',
    data: Type.Object({
      code: Type.Union([Type.Literal('TOKEN_EXPIRED'), Type.Literal('SESSION_ENDED'), Type.Literal('TOO_MANY_STREAMS')], {
        description: '`TOKEN_EXPIRED`: refresh, then reconnect with the last event id. `SESSION_ENDED`: log in again. `TOO_MANY_STREAMS`: this, the oldest stream of the user, was ended; do not reconnect on your own'
      }),
      detail: Type.String()
    }),
    cursor: false,
    on: ['stream']
  }
} as const satisfies Record<PushEvent['type'], PushEventDoc>

const problemRef = { $ref: '#/components/schemas/Problem' }

/** Frames of the socket that are not events: its side of the handshake, and the answers to request frames. */
const socketFrames = {
  ready: {
    summary: 'Authenticated: events follow',
    payload: Type.Object({ type: Type.Literal('ready'), userId: Type.Integer({ minimum: 1, examples: [2] }) })
  },
  error: {
    summary: 'The socket cannot go on (a malformed cursor: it closes with 4400 next), a frame was not JSON, or a typing or presence frame was refused (with its `id`, if it had one)',
    payload: Type.Object({ type: Type.Literal('error'), id: Type.Optional(Type.Unknown()), body: problemRef })
  },
  response: {
    summary: 'The answer to a request frame, with its `id`: the status and body the same route gives over HTTP',
    payload: Type.Object({
      id: Type.Unknown({ description: 'The request frame\'s `id`, as sent' }),
      status: Type.Integer({ minimum: 100, maximum: 599, examples: [202] }),
      body: Type.Unknown({ description: 'The route\'s answer: its JSON, or its text, or null when it has no body' })
    })
  }
}

/** What a client sends on the socket. */
const clientFrames = {
  auth: {
    summary: 'The first frame, when the token was not offered as a protocol: within WS_AUTH_TIMEOUT_SECONDS (5 s)',
    payload: Type.Object({
      type: Type.Literal('auth'),
      token: Type.String({ description: 'An access token' }),
      cursor: Type.Optional(Type.String({ description: 'Resume the feed from this cursor (and acknowledge what it covers)' }))
    })
  },
  /** Named apart from the `typing` event the server sends, which has the same `type`. */
  typingFrame: {
    summary: 'I am typing in a room, or stopped: `POST /v1/rooms/{roomId}/typing`, answered only if refused (an `error` frame)',
    payload: Type.Object({
      type: Type.Literal('typing'),
      id: Type.Optional(Type.Unknown({ description: 'Carried back by an `error` frame' })),
      roomId: Type.Integer({ minimum: 1, examples: [3] }),
      typing: Type.Boolean()
    })
  },
  presenceFrame: {
    summary: 'I am idle, or active again: `POST /v1/users/me/presence`, answered only if refused (an `error` frame)',
    payload: Type.Object({
      type: Type.Literal('presence'),
      id: Type.Optional(Type.Unknown({ description: 'Carried back by an `error` frame' })),
      presence: PresenceReportSchema.properties.presence
    })
  },
  request: {
    summary: 'A request run through the same routes as HTTP, answered by a `response` frame with the same `id`',
    payload: Type.Object({
      id: Type.Unknown({ description: 'Any JSON value: the answer carries it back', examples: [7] }),
      method: Type.String({ examples: ['POST'] }),
      path: Type.String({ pattern: '^/', examples: ['/v1/rooms/3/messages'] }),
      body: Type.Optional(Type.Unknown({ examples: [{ text: 'hi' }] })),
      headers: Type.Optional(Type.Record(Type.String(), Type.String(), { examples: [{ 'idempotency-key': 'retry-1' }] }))
    })
  }
}

const closeCodes: Record<number, string> = {
  [CloseCode.goingAway]: 'the server is shutting down: reconnect (to another instance) with the last cursor',
  1009: 'a frame was larger than a request body may be',
  1011: 'the server failed to start or feed the socket: reconnect with the last cursor',
  [CloseCode.invalidCursor]: 'the cursor is malformed (an `error` frame with the 400 problem comes first)',
  [CloseCode.unauthorized]: 'no valid token, or it expired (refresh and reconnect), or its login ended (log in again)',
  [CloseCode.authTimeout]: 'no token in time',
  [CloseCode.replaced]: 'the user opened more than SOCKETS_PER_USER sockets on one server and this, the oldest, was closed: do not reconnect on your own',
  [CloseCode.slowConsumer]: 'the client read too slowly and its unsent output passed PUSH_BUFFER_LIMIT_BYTES: reconnect with the last cursor'
}

/** `message.created` → `messageCreated`: a name for the components. */
const keyOf = (type: string) => type.replace(/\.(\w)/g, (_, letter: string) => letter.toUpperCase())

export function asyncApiDocument () {
  const events = Object.entries(pushEvents) as Array<[PushEvent['type'], PushEventDoc]>
  const messages: Record<string, object> = {}
  const channelMessages = { socket: {} as Record<string, object>, stream: {} as Record<string, object> }
  const sent = { socket: [] as object[], stream: [] as object[] }
  const add = (channel: 'socket' | 'stream', key: string, message: object, direction: 'sent' | 'received' = 'sent') => {
    const component = `${channel}${key[0]?.toUpperCase() ?? ''}${key.slice(1)}`
    messages[component] = message
    channelMessages[channel][key] = { $ref: `#/components/messages/${component}` }
    if (direction === 'sent') sent[channel].push({ $ref: `#/channels/${channel}/messages/${key}` })
  }

  for (const [type, event] of events) {
    const cursor = Type.String({ description: 'Resume here: pass it as `cursor` when reconnecting (or to the long poll)', examples: [exampleFeedCursor] })
    if (event.on.includes('socket')) {
      add('socket', keyOf(type), {
        name: type,
        summary: event.summary,
        payload: Type.Object({ type: Type.Literal(type), ...(event.cursor && { cursor }), data: event.data })
      })
    }
    if (event.on.includes('stream')) {
      add('stream', keyOf(type), {
        name: type,
        summary: event.summary,
        description: `\`event: ${type}\`${event.cursor ? ', `id:` the cursor to resume from (EventSource sends it back as `Last-Event-ID`)' : ''}, \`data:\` this payload as JSON`,
        payload: event.data
      })
    }
  }
  for (const [key, frame] of Object.entries(socketFrames)) add('socket', key, { name: key, ...frame })
  for (const [key, frame] of Object.entries(clientFrames)) add('socket', key, { name: key, ...frame }, 'received')

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Pigeon push protocol',
      version: packageJson.version,
      description: [
        'What the Pigeon API pushes: the unseen feed, task outcomes, membership and read changes over a WebSocket',
        '(`/v1/ws`, which also answers requests run through the REST routes), and the feed as Server-Sent Events',
        '(`/v1/events`). Every `data` is the JSON a REST route answers (see `/openapi.json`). This document describes the',
        'server: it sends the events and answers, and receives the client\'s frames. Close codes of the socket are in',
        '`x-close-codes` of its channel.'
      ].join(' ')
    },
    defaultContentType: 'application/json',
    channels: {
      socket: {
        address: '/v1/ws',
        title: 'WebSocket',
        description: `Authenticate with \`Sec-WebSocket-Protocol: ${socketProtocol}, bearer.<accessToken>\` (the server answers \`${socketProtocol}\`) or an \`auth\` first frame; \`?cursor=\` resumes the feed. A ping every 15 s keeps it open.`,
        messages: channelMessages.socket,
        bindings: {
          ws: {
            method: 'GET',
            query: Type.Object({ cursor: Type.Optional(Type.String({ description: 'Resume the feed from this cursor' })) })
          }
        },
        'x-close-codes': closeCodes
      },
      stream: {
        address: '/v1/events',
        title: 'Server-Sent Events',
        description: 'The unseen feed as a stream (`GET /v1/events` in the OpenAPI document: its query and headers). A `retry:` hint first, a `: heartbeat` comment every 15 s, an `end` event when the server ends it for a reason the client must act on.',
        messages: channelMessages.stream
      }
    },
    operations: {
      pushOnSocket: { action: 'send', channel: { $ref: '#/channels/socket' }, summary: 'Events and answers on the socket', messages: sent.socket },
      takeSocketFrames: {
        action: 'receive',
        channel: { $ref: '#/channels/socket' },
        summary: 'Auth and request frames from the client',
        messages: Object.keys(clientFrames).map((key) => ({ $ref: `#/channels/socket/messages/${key}` })),
        reply: {
          channel: { $ref: '#/channels/socket' },
          messages: [{ $ref: '#/channels/socket/messages/response' }, { $ref: '#/channels/socket/messages/ready' }]
        }
      },
      pushOnStream: { action: 'send', channel: { $ref: '#/channels/stream' }, summary: 'Events on the stream', messages: sent.stream }
    },
    components: {
      schemas: { Problem: Type.Object(ProblemSchema.properties, { description: 'RFC 9457 problem details, as the REST routes answer them' }) },
      messages
    }
  }
}
