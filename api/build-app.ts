import { randomUUID } from 'node:crypto'
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
    // Long polls hold a request up to 30 s; keep idle connections (and proxies in front) above that.
    keepAliveTimeout: 65_000,
    requestTimeout: 60_000,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id']
      return typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID()
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  await server.register(app, { ...options, config })
  return server
}
