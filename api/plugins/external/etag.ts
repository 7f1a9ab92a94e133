import fp from 'fastify-plugin'
import etag from '@fastify/etag'

/** The entity tags of an If-None-Match header, compared weakly (RFC 9110 §13.1.2): `W/"x"` matches `"x"`. */
function matches (ifNoneMatch: string, tag: string): boolean {
  const opaque = (value: string) => value.trim().replace(/^W\//, '')
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((candidate) => opaque(candidate) === opaque(tag))
}

/**
 * Weak ETags on every response. A GET whose If-None-Match still matches its successful answer gets 304 with no
 * body and no Content-Type (there is nothing to parse). The plugin's own 304 would also answer other methods and
 * error answers, and keep the JSON Content-Type.
 */
export default fp(async (fastify) => {
  await fastify.register(etag, { weak: true, replyWith304: false })

  fastify.addHook('onSend', async (request, reply, payload) => {
    const ifNoneMatch = request.headers['if-none-match']
    const tag = reply.getHeader('etag')
    const conditional = request.method === 'GET' || request.method === 'HEAD'
    if (!conditional || ifNoneMatch === undefined || typeof tag !== 'string' || reply.statusCode !== 200) return payload
    if (!matches(ifNoneMatch, tag)) return payload
    reply.code(304).removeHeader('content-type')
    return null
  })
}, { name: 'etag' })
