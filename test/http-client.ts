import type { ApiProcess } from '../harness/processes.js'
import { checkedFetch } from './helper.js'

// A user of real API processes, over HTTP, for the tests that start them (the multi-process and fault tests).

export interface Answer {
  status: number
  contentType: string
  etag: string | null
  body: any
}

/**
 * One request to a running API, its answer checked against the document the API serves. Aborted after `abortAfter`
 * ms (15 s by default): a request that hangs fails the test with that, not with the test's own timeout.
 */
export async function call (api: ApiProcess, method: string, path: string, options: {
  token?: string
  body?: unknown
  headers?: Record<string, string>
  abortAfter?: number
} = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const response = await checkedFetch(`${api.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.abortAfter ?? 15_000)
  })
  const text = await response.text()
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', etag: response.headers.get('etag'), body: text === '' ? undefined : JSON.parse(text) }
}

export interface User {
  id: number
  token: string
}

/**
 * Registers and logs in through the API; `loginAt` another API of the same deployment shows a token is the
 * deployment's, not the process's.
 */
export async function signUp (api: ApiProcess, username: string, options: { loginAt?: ApiProcess } = {}): Promise<User> {
  const registered = await call(api, 'POST', '/v1/auth/register', { body: { username, password: 'Passw0rd!' } })
  if (registered.status !== 201) throw new Error(`register ${username}: ${registered.status} ${JSON.stringify(registered.body)}`)
  const login = await call(options.loginAt ?? api, 'POST', '/v1/auth/token', { body: { username, password: 'Passw0rd!' } })
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${JSON.stringify(login.body)}`)
  return { id: registered.body.id, token: login.body.accessToken }
}

/** A group room of `owner` and `members`; its id. */
export async function createRoom (api: ApiProcess, owner: User, name: string, members: User[] = []): Promise<number> {
  const created = await call(api, 'POST', '/v1/rooms', { token: owner.token, body: { name, memberIds: members.map((member) => member.id) } })
  if (created.status !== 201) throw new Error(`create room: ${created.status} ${JSON.stringify(created.body)}`)
  return created.body.id
}
