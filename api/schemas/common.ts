import { Type, type TSchema } from 'typebox'

export const ProblemSchema = Type.Object({
  type: Type.String({ examples: ['about:blank'] }),
  title: Type.String({ examples: ['Not Found'] }),
  status: Type.Integer({ examples: [404] }),
  detail: Type.Optional(Type.String()),
  code: Type.Optional(Type.String({ description: 'A stable, machine-readable reason, e.g. USERNAME_TAKEN' })),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    in: Type.String({ description: 'body, querystring, params or headers' }),
    path: Type.String({ description: 'JSON pointer into that part of the request' }),
    message: Type.String()
  })))
}, { $id: 'Problem', description: 'RFC 9457 problem details' })

/** Problem responses by status code, for a route's `response` schema. */
export function problems (...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('Problem')]))
}

export const IdSchema = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
export const IdParamsSchema = Type.Object({ id: IdSchema })

export const DateTimeSchema = Type.String({ format: 'date-time' })

export function PageSchema<T extends TSchema> (item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' })
  })
}

export const PageQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 })
})

export const bearer = [{ bearerAuth: [] }]
