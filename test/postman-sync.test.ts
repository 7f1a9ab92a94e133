import { readFile } from 'node:fs/promises'
import t from 'tap'
import { openApiDocument } from '../scripts/openapi.js'
import { collectionFile, environmentFile, generatePostman, type OpenApiDocument } from '../scripts/postman.js'

const readJson = async (file: string): Promise<unknown> => JSON.parse(await readFile(file, 'utf8'))
const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

const document = await openApiDocument<OpenApiDocument>()
const generated = await generatePostman(document)

t.test('the committed Postman collection matches the OpenAPI document (run `npm run postman` after changing a route)', async (t) => {
  t.strictSame(await readJson(collectionFile), roundTrip(generated.collection))
})

t.test('the committed Postman environment matches the generator', async (t) => {
  t.strictSame(await readJson(environmentFile), roundTrip(generated.environment))
})

t.test('generation is repeatable', async (t) => {
  t.strictSame(roundTrip(await generatePostman(document)), roundTrip(generated))
})

t.test('every documented operation has a summary, an operationId and tags, and a step in the walk-through', async (t) => {
  const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods))
  t.ok(operations.length > 0)
  for (const operation of operations) {
    t.ok(operation.summary, `${operation.operationId ?? '?'}: summary`)
    t.ok(operation.operationId, `${operation.summary ?? '?'}: operationId`)
    t.ok((operation.tags ?? []).length > 0, `${operation.operationId ?? '?'}: tags`)
  }
  const walked = new Set<string>()
  const names = (items: Array<{ item?: unknown[], request?: { method: string, url: { path: string[] } } }>): void => {
    for (const item of items) {
      if (item.request !== undefined) walked.add(`${item.request.method} /${item.request.url.path.join('/')}`)
      if (item.item !== undefined) names(item.item as typeof items)
    }
  }
  names(generated.collection.item)
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const method of Object.keys(methods)) {
      const key = `${method.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`
      t.ok(walked.has(key), `${key} is in the collection`)
    }
  }
})

t.test('the collection logs in with a bearer token and runs against baseUrl', async (t) => {
  const { collection, environment } = generated
  t.match(collection.auth, { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}' }] })
  t.match(collection.variable, [{ key: 'baseUrl', value: 'http://localhost:3000' }])
  t.match(environment.values.find((value) => value.key === 'baseUrl'), { value: 'http://localhost:3000' })
  t.match(environment.values.find((value) => value.key === 'username'), { value: 'user_1' })
})
