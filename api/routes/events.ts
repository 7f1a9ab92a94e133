import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { idleRereadSeconds, readFeed, startingPosition, type FeedEvent } from '../feed.js'
import { hangUpSignal } from '../long-poll.js'
import type { Wakeup } from '../../core/wakeups.js'
import { HttpProblem } from '../errors.js'
import { fromFeedEvent, fromRoomSignal, streamEnds, toSseFrame, type PushEvent, type StreamEnd } from '../push-events.js'
import { createPushSlots } from '../push-slots.js'
import { bearer, problems } from '../schemas/common.js'
import { EventStreamSchema, EventsHeadersSchema, EventsQuerySchema } from '../schemas/events.js'

/** How long an EventSource waits before reconnecting after the stream ends or drops. */
const retryMs = 3000

const eventRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, db, wakeups, sessions, cursors } = fastify
  const reads = wakeups.feedReads.labels('event-stream')
  const slots = createPushSlots<number>(config.EVENT_STREAMS_PER_USER)
  const closing = new AbortController()
  fastify.addHook('preClose', async () => closing.abort())

  // A browser's EventSource cannot send headers: its token comes in the query string instead.
  fastify.addHook('onRequest', async (request) => {
    const token = (request.query as { access_token?: unknown }).access_token
    if (request.headers.authorization === undefined && typeof token === 'string') request.headers.authorization = `Bearer ${token}`
  })
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/events', {
    schema: {
      tags: ['messages'],
      operationId: 'streamEvents',
      summary: 'The unseen feed as Server-Sent Events',
      description: [
        'The same messages as `GET /v1/messages/unseen`, pushed as they arrive. Each event\'s `id` is a feed cursor: reconnecting',
        'with it as `Last-Event-ID` (or `?cursor=`) resumes right after that event and acknowledges everything up to it, as',
        'passing a cursor to the long poll does. Nothing is lost when a stream drops: what was not acknowledged comes again.',
        'A heartbeat comment is sent while nothing happens; the stream ends after `seconds`, or when the client reads too',
        'slowly, and EventSource reconnects by itself. It also ends, after a final `end` event that says why, when the',
        'access token expires (`TOKEN_EXPIRED`: refresh, then reconnect), when its login ends (`SESSION_ENDED`: log in again)',
        'or when the same user opens more than `EVENT_STREAMS_PER_USER` streams on one server (`TOO_MANY_STREAMS`: this,',
        'the oldest, was ended; do not reconnect on your own). A malformed, edited, forged or another user\'s cursor is 400',
        '`INVALID_CURSOR`; whatever a cursor says, it never takes the stream past what a room held. A socket\'s request frame',
        'is 400 `NOT_OVER_SOCKET`.'
      ].join(' '),
      security: bearer,
      querystring: EventsQuerySchema,
      headers: EventsHeadersSchema,
      response: {
        200: { description: 'An event stream', content: { 'text/event-stream': { schema: EventStreamSchema } } },
        ...problems(503)
      }
    }
  }, async (request, reply) => {
    if (request.fromSocket) {
      throw new HttpProblem(400, 'An event stream cannot be opened from a socket\'s request frame: the socket pushes the same events itself.', 'NOT_OVER_SOCKET')
    }
    const resumeFrom = request.headers['last-event-id'] ?? request.query.cursor
    let position = await startingPosition({ db, cursors }, request.userId, resumeFrom)
    const { userId } = request
    const familyId = request.access?.familyId
    // Why the server ended the stream, told in a final `end` event; none when the client left or the time was up.
    let ending: StreamEnd | undefined
    const ended = new AbortController()
    const end = (why: StreamEnd) => {
      ending ??= why
      ended.abort()
    }
    const signal = AbortSignal.any([hangUpSignal(reply), closing.signal, ended.signal])
    const deadline = Date.now() + request.query.seconds * 1000
    const expiresAt = request.access?.expiresAt ?? deadline
    const expiry = setTimeout(() => end(streamEnds.tokenExpired), Math.max(0, expiresAt - Date.now()))
    // Typing and presence events, sent as they come once the stream has begun.
    let sendSignal: ((event: PushEvent) => void) | undefined
    const onUserWakeup = (wakeup: Wakeup) => {
      if (wakeup.type === 'family-revoked' && wakeup.familyId === familyId) end(streamEnds.sessionEnded)
      const event = fromRoomSignal(wakeup)
      if (event !== undefined) sendSignal?.(event)
    }
    wakeups.userEvents.on(String(userId), onUserWakeup)
    // Registered for the stream's whole life: what happens while it writes an answer wakes its next read.
    const watch = wakeups.watches.watch(userId, 'push')
    const releaseSlot = slots.claim(userId, () => end(streamEnds.replaced))

    reply.hijack()
    const stream = reply.raw
    stream.writeHead(200, {
      'x-request-id': String(request.id),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // Proxies such as nginx would otherwise hold events back to fill their buffer.
      'x-accel-buffering': 'no',
      // A stream ends for a reason (time, shutdown, a slow reader): the client reconnects on a fresh connection.
      connection: 'close'
    })
    // A client that reads too slowly is cut off rather than buffered for; it reconnects from its last event id.
    const write = (text: string) => {
      stream.write(text)
      if (stream.writableLength > config.PUSH_BUFFER_LIMIT_BYTES) stream.destroy()
    }
    write(`retry: ${retryMs}\n\n`)
    sendSignal = (event) => { if (stream.writable) write(toSseFrame(event)) }
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), config.PUSH_HEARTBEAT_SECONDS * 1000)

    const send = (events: FeedEvent[]) => {
      if (events.length > 0 && !signal.aborted) write(events.map((event) => toSseFrame(fromFeedEvent(event, cursors.sealFeed(userId, event.position)))).join(''))
    }
    // Events handed over while the stream waits: its loop does not come round for them, so the login is asked after them here.
    const deliver = (events: FeedEvent[]) => {
      send(events)
      if (familyId === undefined) return
      sessions.isEnded(familyId).then((isEnded) => { if (isEnded) end(streamEnds.sessionEnded) }, (error: unknown) => {
        request.log.warn({ err: error }, 'event stream ended: its login could not be checked')
        ended.abort()
      })
    }

    // Only what the client passed in is an acknowledgement; what this stream sends is acknowledged by the next reconnect.
    let acknowledge = true
    try {
      while (!signal.aborted) {
        const remaining = (deadline - Date.now()) / 1000
        if (remaining <= 0) break
        // A login ended on another instance while Redis was away sent no wake-up here: every read asks.
        if (familyId !== undefined && await sessions.isEnded(familyId)) {
          end(streamEnds.sessionEnded)
          break
        }
        const page = await readFeed({ db, acknowledge: fastify.acknowledge, reads, roomReads: wakeups.roomReads }, {
          userId,
          position,
          acknowledge,
          limit: 100,
          wait: Math.min(idleRereadSeconds, remaining),
          signal,
          watch,
          deliver
        })
        acknowledge = false
        position = page.position
        send(page.events)
      }
    } catch (error) {
      // The status line is gone: end the stream, and the client reconnects from its last event.
      request.log.warn({ err: error }, 'event stream ended by an error')
    }
    clearInterval(heartbeat)
    clearTimeout(expiry)
    releaseSlot()
    watch.close()
    wakeups.userEvents.off(String(userId), onUserWakeup)
    sendSignal = undefined
    if (ending !== undefined && stream.writable) write(toSseFrame({ type: 'end', data: ending }))
    stream.end()
  })
}

export default eventRoutes
