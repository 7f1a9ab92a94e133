import { METHODS } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { WebSocket } from 'ws'
import type { Config } from '../core/config.js'
import { findTask } from '../core/tasks.js'
import type { FeedPosition } from '../core/unseen-feed.js'
import type { Wakeup } from '../core/wakeups.js'
import type { Cursors } from './cursor.js'
import { HttpProblem, problem } from './errors.js'
import { idleRereadSeconds, readFeed, startingPosition, type FeedDeps, type FeedEvent } from './feed.js'
import type { FeedWatch, FeedWatches } from './feed-watches.js'
import type { PushSlots } from './push-slots.js'
import { fromFeedEvent, fromUserWakeup, toSocketFrame, type PushEvent } from './push-events.js'
import { toTaskView } from './task-view.js'

/** Close codes a client can act on. */
export const CloseCode = {
  /** The server is shutting down: reconnect (to another instance) with the last cursor. */
  goingAway: 1001,
  /** The first frame's cursor (or `?cursor=`) is malformed: an error frame says why; reconnect without it or with a good one. */
  invalidCursor: 4400,
  /** No valid access token, or it expired (refresh it and reconnect), or its login ended (log in again). */
  unauthorized: 4401,
  /** No token arrived within the time allowed after connecting. */
  authTimeout: 4408,
  /** The same user opened more sockets than SOCKETS_PER_USER on this server: this, the oldest, was closed. Do not reconnect on your own. */
  replaced: 4409,
  /** The client read too slowly and the server's buffer for it passed its limit: reconnect with the last cursor. */
  slowConsumer: 4429
} as const

/** The protocol name a client offers, beside `bearer.<access token>`, in `Sec-WebSocket-Protocol`. */
export const socketProtocol = 'pigeon.v1'
const bearerPrefix = 'bearer.'

export interface SocketSessionDeps extends FeedDeps {
  config: Config
  cursors: Cursors
  log: FastifyBaseLogger
  /** The access-token check HTTP requests get: the user id and when it expires (ms), or it throws. */
  verifyAccessToken: FastifyInstance['verifyAccessToken']
  /** Runs a request frame through the same routes as HTTP. */
  injectFrame: (options: InjectOptions) => Promise<LightMyRequestResponse>
  userEvents: NodeJS.EventEmitter
  /** Where the socket's feed registers for wake-ups, for as long as it is open. */
  watches: FeedWatches
  /** A user's open sockets on this process: a new one beyond the bound closes the oldest. */
  slots: PushSlots<number>
}

/** What the upgrade request told: the token and cursor it offered, and the client's address (the limits count it). */
export interface Handshake { protocols?: string, cursor?: string, remoteAddress: string }

/** The token a client put in its handshake's `Sec-WebSocket-Protocol`, if any. */
export function tokenFromProtocols (header: string | undefined): string | undefined {
  return header?.split(',').map((protocol) => protocol.trim()).find((protocol) => protocol.startsWith(bearerPrefix))?.slice(bearerPrefix.length)
}

interface SocketRequest { id?: unknown, method?: unknown, path?: unknown, body?: unknown, headers?: unknown }

/**
 * A typing or presence frame, as the route it stands for: `{ type: 'typing', roomId, typing }` is
 * `POST /v1/rooms/{roomId}/typing`, `{ type: 'presence', presence }` is `POST /v1/users/me/presence`, checked and limited
 * the same. Only a refusal is answered (an error frame): these come often, and a success needs no word.
 */
function signalRequest (frame: Record<string, unknown>): SocketRequest | undefined {
  if (frame.type === 'typing') return { id: frame.id, method: 'POST', path: `/v1/rooms/${encodeURIComponent(String(frame.roomId))}/typing`, body: { typing: frame.typing } }
  if (frame.type === 'presence') return { id: frame.id, method: 'POST', path: '/v1/users/me/presence', body: { presence: frame.presence } }
  return undefined
}

function parseFrame (data: unknown): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(String(data))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * One WebSocket: authenticate (handshake protocol or first frame), then push the user's feed and task
 * outcomes, and answer requests `{ id, method, path, body }` by running them through the HTTP routes.
 */
export function runSocketSession (deps: SocketSessionDeps, socket: WebSocket, handshake: Handshake): void {
  const { config, log } = deps
  // Aborts the feed and every request frame still running once the socket closes.
  const ended = new AbortController()
  let token: string | undefined
  let userId = 0
  let familyId: string | undefined
  let expiryTimer: NodeJS.Timeout | undefined
  let releaseSlot = () => {}
  let closeWatch = () => {}
  let inFlight = 0

  const send = (frame: string) => {
    if (socket.readyState !== socket.OPEN) return
    socket.send(frame)
    if (socket.bufferedAmount > config.PUSH_BUFFER_LIMIT_BYTES) socket.close(CloseCode.slowConsumer, 'too slow: reconnect with your last cursor')
  }
  const push = (event: PushEvent) => send(toSocketFrame(event))

  const onUserWakeup = (wakeup: Wakeup) => {
    if (wakeup.type === 'family-revoked' && wakeup.familyId === familyId) socket.close(CloseCode.unauthorized, 'logged out')
    const event = fromUserWakeup(wakeup)
    if (event !== undefined) push(event)
    if (wakeup.type !== 'task-finished') return
    findTask(deps.db, wakeup.taskId)
      .then((found) => { if (found?.task.owner_id === userId) push({ type: 'task.finished', data: toTaskView(found.task, found.message) }) })
      .catch((error: unknown) => log.warn({ err: error }, 'could not read a finished task for a socket'))
  }

  // Feed events, each with the cursor after it: from the socket's own reads, or handed over while it waits.
  const deliver = (events: FeedEvent[]) => {
    for (const event of events) push(fromFeedEvent(event, deps.cursors.sealFeed(userId, event.position)))
  }

  async function pushFeed (start: FeedPosition, watch: FeedWatch): Promise<void> {
    let position = start
    // The cursor the client resumed with acknowledges what it covers; what this socket sends is acknowledged by the next resume.
    let acknowledge = true
    while (!ended.signal.aborted) {
      const page = await readFeed(deps, {
        userId, position, acknowledge, limit: 100, wait: idleRereadSeconds, signal: ended.signal, watch, deliver
      })
      acknowledge = false
      position = page.position
      deliver(page.events)
    }
  }

  async function authenticate (candidate: string, cursor: string | undefined): Promise<void> {
    // Taken now, so frames that come while the token is checked are not taken for a first frame.
    token = candidate
    clearTimeout(authTimer)
    let verified
    try {
      verified = await deps.verifyAccessToken(candidate)
    } catch (error) {
      const code = error instanceof HttpProblem ? error.problem.code : undefined
      socket.close(CloseCode.unauthorized, code === 'SESSION_ENDED' ? 'this login has ended' : code === 'TOKEN_EXPIRED' ? 'the access token expired' : 'a valid access token is required')
      return
    }
    let start: FeedPosition
    try {
      start = await startingPosition(deps, verified.userId, cursor)
    } catch (error) {
      // The client's mistake, as REST answers it (400), then a close that says what it was.
      if (!(error instanceof HttpProblem)) throw error
      send(JSON.stringify({ type: 'error', body: error.problem }))
      socket.close(CloseCode.invalidCursor, 'the cursor is malformed')
      return
    }
    if (ended.signal.aborted) return
    userId = verified.userId
    familyId = verified.familyId
    // An expired token ends the socket; the client refreshes it and reconnects with its last cursor.
    expiryTimer = setTimeout(() => socket.close(CloseCode.unauthorized, 'the access token expired'), Math.max(0, verified.expiresAt - Date.now()))
    releaseSlot = deps.slots.claim(userId, () => socket.close(CloseCode.replaced, 'too many sockets of this user: this, the oldest, was closed'))
    deps.userEvents.on(String(userId), onUserWakeup)
    const watch = deps.watches.watch(userId, 'push')
    closeWatch = () => watch.close()
    send(JSON.stringify({ type: 'ready', userId }))
    pushFeed(start, watch).catch((error: unknown) => {
      // The client resumes from its last cursor.
      log.warn({ err: error }, 'socket feed ended by an error')
      socket.close(1011, 'the feed failed: reconnect with your last cursor')
    })
  }

  function begin (candidate: string, cursor: string | undefined): void {
    authenticate(candidate, cursor).catch((error: unknown) => {
      log.warn({ err: error }, 'socket could not start')
      socket.close(1011, 'the socket could not start: reconnect')
    })
  }

  async function answer (request: SocketRequest, quiet = false): Promise<void> {
    const { id, method, path, body, headers } = request
    if (typeof method !== 'string' || !METHODS.includes(method.toUpperCase()) || typeof path !== 'string' || !path.startsWith('/')) {
      send(JSON.stringify({ id, status: 400, body: problem(400, 'A request frame needs an HTTP method and a path starting with /.', 'VALIDATION_FAILED') }))
      return
    }
    const extra = typeof headers === 'object' && headers !== null ? Object.fromEntries(Object.entries(headers).filter(([, value]) => typeof value === 'string')) as Record<string, string> : {}
    const response = await deps.injectFrame({
      method: method.toUpperCase() as InjectOptions['method'],
      url: path,
      headers: { ...extra, authorization: `Bearer ${String(token)}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
      // Every per-address limit counts the client at the other end of the socket, as it does over HTTP.
      remoteAddress: handshake.remoteAddress,
      signal: ended.signal
    })
    const isJson = /json/.test(String(response.headers['content-type']))
    if (quiet) {
      if (response.statusCode >= 400) send(JSON.stringify({ type: 'error', ...(id !== undefined && { id }), body: response.json() }))
      return
    }
    send(JSON.stringify({ id, status: response.statusCode, body: response.body === '' ? null : isJson ? response.json() : response.body }))
  }

  // A ping keeps proxies from closing an idle socket; the client's pong needs no handling.
  const heartbeat = setInterval(() => { if (socket.readyState === socket.OPEN) socket.ping() }, config.PUSH_HEARTBEAT_SECONDS * 1000)
  const authTimer = setTimeout(() => socket.close(CloseCode.authTimeout, 'no access token in time'), config.WS_AUTH_TIMEOUT_SECONDS * 1000)

  socket.on('message', (data) => {
    const frame = parseFrame(data)
    if (token === undefined) {
      if (frame?.type === 'auth' && typeof frame.token === 'string') begin(frame.token, typeof frame.cursor === 'string' ? frame.cursor : handshake.cursor)
      else socket.close(CloseCode.unauthorized, 'the first frame must be { "type": "auth", "token": … }')
      return
    }
    if (frame === undefined) {
      send(JSON.stringify({ type: 'error', body: problem(400, 'A frame must be a JSON object.', 'INVALID_JSON') }))
      return
    }
    // Requests still running are what a socket holds in memory for its client: bounded, the rest answered at once.
    if (inFlight >= config.SOCKET_REQUESTS_IN_FLIGHT) {
      send(JSON.stringify({ id: frame.id, status: 429, body: problem(429, `Too many requests: at most ${config.SOCKET_REQUESTS_IN_FLIGHT} may run at once on one socket; wait for an answer first.`, 'RATE_LIMITED') }))
      return
    }
    inFlight++
    const signal = signalRequest(frame)
    answer(signal ?? frame, signal !== undefined).catch((error: unknown) => {
      if (ended.signal.aborted) return
      log.warn({ err: error }, 'a socket request could not be run')
      send(JSON.stringify({ id: frame.id, status: 400, body: problem(400, 'That request cannot be made over HTTP.', 'MALFORMED_REQUEST') }))
    }).finally(() => { inFlight-- })
  })

  socket.on('close', () => {
    ended.abort()
    releaseSlot()
    closeWatch()
    clearTimeout(authTimer)
    clearTimeout(expiryTimer)
    clearInterval(heartbeat)
    deps.userEvents.off(String(userId), onUserWakeup)
  })

  const offered = tokenFromProtocols(handshake.protocols)
  if (offered !== undefined) begin(offered, handshake.cursor)
}
