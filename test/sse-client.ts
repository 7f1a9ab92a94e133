import { pushContractOf } from './asyncapi-contract.js'

/** One Server-Sent Event as a client reads it; `comment` for a `:` line (a heartbeat). */
export interface SseEvent { id?: string, event?: string, data?: string, retry?: number, comment?: string }

/** An open event stream over fetch: read events one at a time, then drop the connection. */
export interface SseStream {
  status: number
  headers: Headers
  /** The next event (comments included), or undefined once the stream ended. */
  next: () => Promise<SseEvent | undefined>
  /** The next event that is not a comment nor a retry hint. */
  /** The next named event (of this name, when given: presence and typing events of roommates come between). */
  nextEvent: (name?: string) => Promise<SseEvent | undefined>
  close: () => void
}

function parse (block: string): SseEvent {
  const event: SseEvent = {}
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) event.comment = line.slice(1).trim()
    const match = /^(id|event|data|retry): ?(.*)$/.exec(line)
    if (match === null) continue
    const [, field, value] = match as unknown as [string, 'id' | 'event' | 'data' | 'retry', string]
    if (field === 'retry') event.retry = Number(value)
    else event[field] = value
  }
  return event
}

/** Every event read is checked against the AsyncAPI document the server serves: one it does not allow fails the test. */
export async function openSse (url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const contract = await pushContractOf(url)
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const next = async (): Promise<SseEvent | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = parse(block)
        if (event.event !== undefined) {
          const found = contract.checkStreamEvent(event.event, JSON.parse(event.data ?? 'null'))
          if (found.length > 0) throw new Error(`${block.slice(0, 300)}\n- ${found.join('\n- ')}`)
        }
        return event
      }
      const chunk = await reader?.read().catch(() => undefined)
      if (chunk === undefined || chunk.done) return undefined
      buffer += decoder.decode(chunk.value, { stream: true })
    }
  }
  return {
    status: response.status,
    headers: response.headers,
    next,
    async nextEvent (name?: string) {
      for (;;) {
        const event = await next()
        if (event === undefined || (event.event !== undefined && (name === undefined || event.event === name))) return event
      }
    },
    close: () => controller.abort()
  }
}
