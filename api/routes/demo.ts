import type { FastifyPluginAsync } from 'fastify'
import { demoCss, demoHtml, demoJs } from '../demo/page.js'

/** What the demo page may do: load its own style and script, and talk to this server (HTTP and its WebSocket). */
const demoPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** The live chat demo: a page, its style and its script, outside the API (not in the OpenAPI document). */
const demoRoutes: FastifyPluginAsync = async (fastify) => {
  // The API's own policy lets an answer load nothing; the page needs its files and the socket.
  fastify.addHook('onSend', async (_request, reply) => { reply.header('content-security-policy', demoPolicy) })
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
