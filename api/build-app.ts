import { randomUUID } from 'node:crypto'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../core/config.js'
import app, { type AppOptions } from './app.js'

/** The one place server options live: production and tests build the same server. */
export async function buildApp (config: Config, options: Omit<AppOptions, 'config'> = {}): Promise<FastifyInstance> {
  const server = Fastify({
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie']
    },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // `/v1/rooms` and `/v1/rooms/` are one route.
    routerOptions: { ignoreTrailingSlash: true },
    // Long polls hold a request up to 30 s; keep idle connections (and proxies in front) above that.
    keepAliveTimeout: 65_000,
    requestTimeout: 60_000,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id']
      return typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID()
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // A JSON body is taken as typed (42 is not a string); query strings, params and headers arrive as text, so they
  // are coerced. Unknown body fields are refused rather than dropped, and every error is listed.
  const ajvOptions = { useDefaults: true, removeAdditional: false, allErrors: true, addUsedSchema: false } as const
  const body = addFormats.default(new Ajv({ ...ajvOptions, coerceTypes: false }))
  const text = addFormats.default(new Ajv({ ...ajvOptions, coerceTypes: 'array' }))
  server.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema))

  await server.register(app, { ...options, config })
  return server
}
