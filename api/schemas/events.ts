import { Type } from 'typebox'
import { exampleFeedCursor } from './messages.js'

export const EventsQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({
    maxLength: 65_536,
    description: 'Where to start when there is no `Last-Event-ID` header: the `id` of an event, or an unseen-feed `cursor`, exactly as given. It acknowledges what it covers; an edited, forged or another user\'s cursor is 400 `INVALID_CURSOR`'
  })),
  seconds: Type.Integer({
    minimum: 1,
    maximum: 3600,
    default: 300,
    description: 'How long the stream stays open; then it ends and the client reconnects with `Last-Event-ID` (EventSource does this by itself)',
    examples: [1]
  }),
  access_token: Type.Optional(Type.String({
    maxLength: 4096,
    description: 'The access token, for clients that cannot send an `Authorization` header (a browser `EventSource`)',
    examples: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwidHlwIjoiYWNjZXNzIn0.signature']
  }))
})

export const EventsHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String({
    maxLength: 65_536,
    description: 'The `id` of the last event received (sent by EventSource on reconnect): resumes after it and acknowledges what it covers; an edited or forged one is 400 `INVALID_CURSOR`'
  }))
})

export const EventStreamSchema = Type.String({
  description: [
    'Server-Sent Events. `retry:` first, then `event: message.created` for each unseen message, and `message.edited` or',
    '`message.deleted` for each edit or delete of a message already sent (changes come before new messages in a batch),',
    'each with `id: <cursor>` and `data:` the message as the REST routes show it now (a deleted one without text);',
    'a `: heartbeat` comment while nothing happens.'
  ].join(' '),
  examples: [`retry: 3000\n\nid: ${exampleFeedCursor}\nevent: message.created\ndata: {"id":7,"roomId":1,"seq":12,"senderId":2,"text":"Hello Bob!","createdAt":"2026-05-04T09:30:00.000Z","editedAt":null}\n\n: heartbeat\n\n`]
})
