import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'
import type { Config } from '../../../core/config.js'

/** The headers clients expose to scripts on another origin: what the API's answers tell a client to act on. */
const exposedHeaders = ['Location', 'ETag', 'x-request-id', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']

/**
 * Helmet's headers, with a Content-Security-Policy for a JSON API: an answer is data, never a page, so it may load
 * nothing and be framed nowhere (Swagger UI and the queue dashboard set their own). CORS only for the origins
 * listed in CORS_ORIGINS: by default a browser page on another origin cannot read any answer.
 */
export default fp(async (fastify, opts: { config: Config }) => {
  await fastify.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }
  })
  const origins = opts.config.CORS_ORIGINS.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  if (origins.length === 0) return
  await fastify.register(cors, {
    origin: origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-None-Match', 'x-request-id'],
    exposedHeaders,
    maxAge: 600
  })
}, { name: 'security-headers' })
