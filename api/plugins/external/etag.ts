import fp from 'fastify-plugin'
import etag from '@fastify/etag'

/** Weak ETags on every response; a GET with a matching If-None-Match answers 304 with no body. */
export default fp(async (fastify) => {
  await fastify.register(etag, { weak: true })
}, { name: 'etag' })
