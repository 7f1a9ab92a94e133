import type { FastifyPluginAsync } from 'fastify'
import { demoCss, demoHtml, demoJs } from '../demo/page.js'

/** The live chat demo: a page, its style and its script, outside the API (not in the OpenAPI document). */
const demoRoutes: FastifyPluginAsync = async (fastify) => {
  const files: Array<[string, string, string]> = [
    ['/demo', 'text/html; charset=utf-8', demoHtml],
    ['/demo/demo.css', 'text/css; charset=utf-8', demoCss],
    ['/demo/demo.js', 'text/javascript; charset=utf-8', demoJs]
  ]
  for (const [url, type, body] of files) {
    fastify.get(url, { schema: { hide: true } }, async (_request, reply) => await reply.type(type).send(body))
  }
}

export default demoRoutes
