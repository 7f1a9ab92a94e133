import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

/** One answer as a client saw it. */
export interface Exchange {
  method: string
  url: string
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

interface Header { required?: boolean, schema?: object }
interface Response { headers?: Record<string, Header>, content?: Record<string, { schema?: object }> }
interface Operation { responses?: Record<string, Response> }
export interface Document { paths: Record<string, Record<string, Operation>>, components?: { schemas?: Record<string, object> } }

// Pages of third-party UIs that the document leaves out on purpose: Swagger UI and its assets, and the bull-board
// dashboard and its own API, and the /demo chat page. They are not part of Pigeon's HTTP API.
// /v1/ws is a WebSocket handshake, described in the document's introduction (its 426 there too), not as an operation.
const outsideTheApi = [/^\/docs(\/|$)/, /^\/admin\/queues(\/|$)/, /^\/demo(\/|$)/, /^\/v1\/ws$/]

const documentId = 'https://pigeon.invalid/openapi.json'

/** A JSON pointer segment (RFC 6901). */
const pointer = (...segments: string[]) => segments.map((segment) => `/${segment.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')

const isJson = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json')

/**
 * Checks answers against an OpenAPI 3.1 document with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses): the status is
 * documented for the operation, the body has a documented media type and matches its schema, a response
 * documented without content has no body, and every required header is there and matches its schema. A request
 * the document does not describe must be answered with the not-found problem.
 */
export function createContract (document: Document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  ajv.addSchema({ ...document, $id: documentId })
  const validators = new Map<string, ValidateFunction>()

  function validatorAt (path: string): ValidateFunction {
    let validate = validators.get(path)
    if (validate === undefined) {
      validate = ajv.compile({ $ref: `${documentId}#${path}` })
      validators.set(path, validate)
    }
    return validate
  }

  function schemaErrors (path: string, value: unknown): string[] {
    const validate = validatorAt(path)
    if (validate(value)) return []
    return (validate.errors ?? []).map((error) => `${error.instancePath === '' ? '/' : error.instancePath} ${error.message ?? 'is invalid'}`)
  }

  // Literal paths first, so /v1/users/me is not taken for /v1/users/{id}.
  const routes = Object.keys(document.paths)
    .map((template) => ({
      template,
      params: (template.match(/\{/g) ?? []).length,
      // The server ignores a trailing slash.
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}/?$`)
    }))
    .sort((a, b) => a.params - b.params)

  function header (exchange: Exchange, name: string): string | undefined {
    const value = exchange.headers[name.toLowerCase()]
    return value === undefined ? undefined : String(value)
  }

  /** `content` maps each media type the answer may have to the pointer of its schema; undefined: no body. */
  function checkBody (exchange: Exchange, content: Record<string, string> | undefined): string[] {
    const contentType = header(exchange, 'content-type')
    if (content === undefined) {
      const found: string[] = []
      if (exchange.body !== '') found.push('has a body, but the document says it has none')
      if (contentType !== undefined) found.push(`says content-type ${contentType}, but the document says it has no body`)
      return found
    }
    if (exchange.method === 'HEAD') return []
    if (contentType === undefined) return ['has no content-type']
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
    const schema = content[mediaType]
    if (schema === undefined) return [`is ${mediaType}, not ${Object.keys(content).join(' or ')}`]
    let value: unknown = exchange.body
    if (isJson(mediaType)) {
      try {
        value = JSON.parse(exchange.body)
      } catch {
        return [`is not the JSON its content-type says: ${JSON.stringify(exchange.body.slice(0, 80))}`]
      }
    }
    return schemaErrors(schema, value).map((error) => `body ${error}`)
  }

  function checkHeaders (exchange: Exchange, response: Response, at: string): string[] {
    return Object.entries(response.headers ?? {}).flatMap(([name, documented]) => {
      const value = header(exchange, name)
      if (value === undefined) return documented.required === true ? [`lacks the ${name} header`] : []
      return documented.schema === undefined ? [] : schemaErrors(`${at}${pointer('headers', name, 'schema')}`, value).map((error) => `header ${name} ${error}`)
    })
  }

  /** What is wrong with an answer, in words; none when the document allows it. */
  function check (exchange: Exchange): string[] {
    const path = new URL(exchange.url, 'http://pigeon.invalid').pathname
    if (outsideTheApi.some((prefix) => prefix.test(path))) return []
    const method = exchange.method.toLowerCase()
    // A CORS preflight is answered by the CORS layer for every route, not by an operation of the API.
    if (method === 'options' && header(exchange, 'access-control-allow-origin') !== undefined) return []
    const route = routes.find((candidate) => candidate.pattern.test(path))
    const operation = route === undefined ? undefined : document.paths[route.template]?.[method === 'head' ? 'get' : method]
    if (route === undefined || operation === undefined) {
      // Not an operation of the API: the answer must be the not-found problem.
      if (exchange.status !== 404) return [`is ${exchange.status}, but a request the document does not describe must be 404`]
      return checkBody(exchange, { 'application/problem+json': pointer('components', 'schemas', 'Problem') })
    }
    const responses = operation.responses ?? {}
    const status = [String(exchange.status), `${String(exchange.status)[0]}XX`, 'default'].find((key) => key in responses)
    const response = status === undefined ? undefined : responses[status]
    if (status === undefined || response === undefined) {
      return [`is ${exchange.status}, which is not documented for ${method.toUpperCase()} ${route.template} (${Object.keys(responses).join(', ')})`]
    }
    const at = pointer('paths', route.template, method === 'head' ? 'get' : method, 'responses', status)
    const content = response.content === undefined
      ? undefined
      : Object.fromEntries(Object.keys(response.content).map((mediaType) => [mediaType, `${at}${pointer('content', mediaType, 'schema')}`]))
    return [...checkHeaders(exchange, response, at), ...checkBody(exchange, content)]
  }

  return { check }
}

export type Contract = ReturnType<typeof createContract>
