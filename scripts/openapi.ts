// Writes the OpenAPI document the API serves at /openapi.json to a file, for tools that read files:
// `tsx scripts/openapi.ts dist/openapi.json` (`npm run lint` lints that file with Redocly).
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../api/build-app.js'
import { loadConfig } from '../core/config.js'

/** The OpenAPI document as the API serves it at /openapi.json, without listening on a port. */
export async function openApiDocument<Document> (): Promise<Document> {
  // Connections open lazily and nothing is queried: any local (or absent) Postgres and Redis will do.
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', JWT_SECRET: 'openapi-document' }))
  try {
    await app.ready()
    const response = await app.inject({ method: 'GET', url: '/openapi.json' })
    if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}`)
    return response.json<Document>()
  } finally {
    await app.close()
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: tsx scripts/openapi.ts FILE')
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, `${JSON.stringify(await openApiDocument(), null, 2)}\n`)
}
