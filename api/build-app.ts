import { randomUUID } from 'node:crypto'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from '../core/config.js'
import app, { type AppOptions } from './app.js'
import { rawProblemResponse, sendProblem, toParserProblem, toProblem } from './errors.js'

/**
 * A URL with the value of every `access_token` parameter replaced, however its name is spelled: the query parser
 * decodes names (`%61ccess_token` is `access_token` to it), and a repeated one is read too.
 */
export function redactAccessToken (url: string): string {
  const start = url.indexOf('?')
  if (start < 0) return url
  const decoded = (text: string) => {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '))
    } catch {
      return text
    }
  }
  const query = url.slice(start + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=')
    const name = equals < 0 ? pair : pair.slice(0, equals)
    return decoded(name) === 'access_token' ? `${name}=[redacted]` : pair
  })
  return `${url.slice(0, start)}?${query.join('&')}`
}

/** The one place server options live: production and tests build the same server. */
export async function buildApp (config: Config, options: Omit<AppOptions, 'config'> = {}): Promise<FastifyInstance> {
  const server = Fastify({
    logger: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      // A browser's EventSource sends its token in the URL (`access_token`): it stays out of the logs too.
      serializers: {
        req: (request) => ({
          method: request.method,
          url: redactAccessToken(request.url),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort
        })
      }
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
    // A URL the router cannot take (broken percent-encoding, a parameter over maxParamLength) is answered before
    // any hook or error handler runs: give it the problem shape and the request id every other answer has.
    frameworkErrors: (error, request, reply) => sendProblem(reply.header('x-request-id', request.id), toProblem(error)),
    // Node's HTTP parser refuses some requests (headers over its size limit, bytes that are not HTTP) before Fastify
    // sees them; answer on the raw socket in the same shape, then close it: the parser cannot go on after an error.
    clientErrorHandler: (error, socket) => {
      if (error.code === 'ECONNRESET' || !socket.writable) socket.destroy()
      else socket.end(rawProblemResponse(toParserProblem(error)), () => socket.destroy())
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // A JSON body is taken as typed (42 is not a string); query strings, params and headers arrive as text, so they
  // are coerced. Unknown body fields are refused rather than dropped, and every error is listed; `verbose` gives
  // each error its schema, so an unknown field's error can name the fields there are.
  const ajvOptions = { useDefaults: true, removeAdditional: false, allErrors: true, addUsedSchema: false, verbose: true } as const
  const body = addFormats.default(new Ajv({ ...ajvOptions, coerceTypes: false }))
  const text = addFormats.default(new Ajv({ ...ajvOptions, coerceTypes: 'array' }))
  server.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema))

  await server.register(app, { ...options, config })
  return server
}
