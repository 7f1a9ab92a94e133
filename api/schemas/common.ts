import { STATUS_CODES } from 'node:http'
import { Type, type TSchema } from 'typebox'

/** Every reason an error answer can give: a client may branch on these, so each one is part of the contract. */
export const ProblemCodeSchema = Type.Enum([
  // The request itself
  'BAD_URL', 'URL_TOO_LONG', 'HEADERS_TOO_LARGE', 'MALFORMED_REQUEST', 'REQUEST_TIMEOUT',
  'UNSUPPORTED_MEDIA_TYPE', 'BODY_TOO_LARGE', 'INVALID_JSON', 'VALIDATION_FAILED', 'INVALID_CURSOR',
  'UPGRADE_REQUIRED', 'NOT_OVER_SOCKET', 'NO_SEARCH_TERMS',
  // Who is asking
  'UNAUTHORIZED', 'INVALID_CREDENTIALS', 'INVALID_REFRESH_TOKEN', 'ADMIN_ONLY',
  'TOKEN_EXPIRED', 'SESSION_ENDED',
  // What was asked
  'USERNAME_TAKEN', 'UNKNOWN_USERS', 'CANNOT_LEAVE_DIRECT_ROOM', 'NOT_A_GROUP_ROOM', 'NOT_ROOM_OWNER', 'CANNOT_MESSAGE_SELF', 'IDEMPOTENCY_KEY_REUSED',
  'NOT_THE_AUTHOR', 'MESSAGE_DELETED', 'JOIN_REQUIRED',
  // How often
  'RATE_LIMITED',
  // Our side
  'DATABASE_UNAVAILABLE', 'QUEUE_UNAVAILABLE', 'PRESENCE_UNAVAILABLE'
], { description: 'A stable, machine-readable reason', examples: ['USERNAME_TAKEN'] })

export const ProblemSchema = Type.Object({
  type: Type.String({ examples: ['about:blank'] }),
  title: Type.String({ examples: ['Not Found'] }),
  status: Type.Integer({ minimum: 400, maximum: 599, examples: [404] }),
  detail: Type.Optional(Type.String({ examples: ['There is no room 7.'] })),
  code: Type.Optional(ProblemCodeSchema),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    in: Type.String({ description: 'body, querystring, params or headers' }),
    path: Type.String({ description: 'JSON pointer to the field in that part of the request (an unknown or missing field included)', examples: ['/text'] }),
    message: Type.String({ description: 'The rule the field broke, in words', examples: ['must be 4000 characters or shorter'] })
  })))
}, { $id: 'Problem', description: 'RFC 9457 problem details' })

export const problemContentType = 'application/problem+json'

/** A problem answer, as a route's `response` schema and the OpenAPI document declare it. */
export function problemResponse (description: string) {
  return { description, content: { [problemContentType]: { schema: Type.Ref('Problem') } } }
}

/**
 * The problem answers a route's own handler gives, by status code. The document adds those every route of its
 * kind gives (a bad body, a missing token, …): see api/openapi.ts.
 */
export function problems (...statuses: number[]): Record<number, ReturnType<typeof problemResponse>> {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse(STATUS_CODES[status] ?? 'Error')]))
}

export const IdSchema = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, examples: [2] })
export const IdParamsSchema = Type.Object({ id: IdSchema })

export const DateTimeSchema = Type.String({ format: 'date-time', examples: ['2026-05-04T09:30:00.000Z'] })

export function PageSchema<T extends TSchema> (item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page', examples: [null] })
  })
}

/**
 * A list's query: `cursor` is the `nextCursor` of the page before. It has no example: a cursor is sealed by the
 * server that made it, so no value written here would page anything (and a form pre-filled with one would fail).
 */
export const PageQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({
    maxLength: 512,
    description: 'The `nextCursor` of the previous page, exactly as given (sealed by the server: an edited one is 400 `INVALID_CURSOR`)'
  })),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Items per page', examples: [20] })
})

export const bearer = [{ bearerAuth: [] }]
/** A route anyone may call, without a token. */
export const noAuth = []
