import { once } from 'node:events'
import tap from 'tap'
import { WebSocket, type ClientOptions } from 'ws'
import { pushContractOf } from './asyncapi-contract.js'

export interface Frame { type?: string, id?: unknown, status?: number, body?: unknown, cursor?: string, data?: any, userId?: number }

/** A test client of `/v1/ws`: frames are queued as they come; `next` takes them in order. */
export interface SocketClient {
  socket: WebSocket
  next: (match?: (frame: Frame) => boolean) => Promise<Frame>
  /** The frames come and not yet taken that match, without waiting: what a socket got by now. */
  queued: (match: (frame: Frame) => boolean) => Frame[]
  request: (request: { method: string, path: string, body?: unknown, headers?: Record<string, string> }) => Promise<{ status: number, body: unknown }>
  /** Resolves with the close code once the server closed the socket. */
  closed: Promise<number>
}

let requestIds = 0

/** Frames that broke the document, found by clients no later call threw them from: they fail the file at its end. */
const unthrown = new Set<Error>()
tap.teardown(() => {
  const [first] = unthrown
  if (first !== undefined) throw first
})

/**
 * `options.localAddress` (say 127.0.0.2) connects from another loopback address: another client, to the server.
 * Every frame is checked against the AsyncAPI document the server serves as it comes, taken or not: the first one it
 * does not allow is thrown by the next `next`, `queued` or `request`, failing the test, or else at the file's end.
 */
export async function openSocket (url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<SocketClient> {
  const contract = await pushContractOf(url)
  const socket = new WebSocket(url, protocols, options)
  const frames: Frame[] = []
  const waiting: Array<() => void> = []
  let mismatch: Error | undefined
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame
    const found = contract.checkSocketFrame(frame)
    if (found.length > 0 && mismatch === undefined) {
      mismatch = new Error(`${JSON.stringify(frame).slice(0, 300)}\n- ${found.join('\n- ')}`)
      unthrown.add(mismatch)
    }
    frames.push(frame)
    for (const wake of waiting.splice(0)) wake()
  })
  const matched = () => {
    if (mismatch === undefined) return
    unthrown.delete(mismatch)
    throw mismatch
  }
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => {
    resolve(code)
    for (const wake of waiting.splice(0)) wake()
  }))
  await Promise.race([once(socket, 'open'), once(socket, 'close')])
  async function next (match: (frame: Frame) => boolean = () => true): Promise<Frame> {
    for (;;) {
      matched()
      const index = frames.findIndex(match)
      if (index >= 0) return frames.splice(index, 1)[0] as Frame
      if (socket.readyState === socket.CLOSED) throw new Error('the socket closed before the frame came')
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }
  return {
    socket,
    next,
    queued (match) {
      matched()
      return frames.filter(match)
    },
    closed,
    async request (request) {
      const id = ++requestIds
      socket.send(JSON.stringify({ id, ...request }))
      const { status, body } = await next((frame) => frame.id === id)
      return { status: status as number, body }
    }
  }
}
