import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import newman, { type NewmanRunExecution, type NewmanRunSummary } from 'newman'
import t from 'tap'
import { collectionFile, environmentFile } from '../scripts/postman.js'
import { seedDemo } from '../seeds/seed-demo.js'
import { freePort } from '../harness/processes.js'
import { testConfig } from '../harness/test-config.js'
import { spawnTied } from '../harness/tied-child.js'
import { testApp, testDb, testWorkers } from './helper.js'

// The committed collection, run headless against a freshly seeded demo with real workers, as a user would, through
// Prism's validating proxy: a third party's reading of the served OpenAPI document checks every request and answer.
const config = await testConfig(t)
await seedDemo(testDb(t, config))
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ port: 0, host: '127.0.0.1' })
const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
// Prism reads the document the API serves, from a file: its own download of a URL fails on Node 24.
const served = await (await fetch(`${apiUrl}/openapi.json`)).text()
const prismUrl = await startPrismProxy(path.join(t.testdir({ 'openapi.json': served }), 'openapi.json'), apiUrl)

/** `prism proxy DOCUMENT UPSTREAM --errors`, resolved once it listens; stopped at teardown. */
async function startPrismProxy (document: string, upstream: string): Promise<string> {
  const port = await freePort()
  const cli = createRequire(import.meta.url).resolve('@stoplight/prism-cli/dist/index.js')
  const { child: prism, stop } = spawnTied(process.execPath, [cli, 'proxy', document, upstream, '--errors', '--host', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(async () => await stop('SIGTERM'))
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Prism is listening')) resolve()
    }
    prism.stdout?.on('data', read)
    prism.stderr?.on('data', read)
    prism.once('exit', (code) => reject(new Error(`prism exited with ${code}:\n${output}`)))
  })
  return `http://127.0.0.1:${port}`
}

function runCollection (baseUrl: string): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run({
      collection: collectionFile,
      environment: environmentFile,
      envVar: [{ key: 'baseUrl', value: baseUrl }],
      reporters: [],
      timeoutRequest: 20_000
    }, (error, summary) => { if (error !== null) reject(error); else resolve(summary) })
  })
}

function requestCount (folder: { item?: unknown[] }): number {
  return (folder.item ?? []).reduce<number>((sum, item) => sum + ((item as { item?: unknown[] }).item === undefined ? 1 : requestCount(item as { item?: unknown[] })), 0)
}

/** What Prism found wrong with an exchange: it lists every request and response violation in `sl-violations`. */
function violations (execution: NewmanRunExecution): string[] {
  const header = execution.response?.headers.get('sl-violations')
  if (header === undefined) return []
  const found = JSON.parse(header) as Array<{ location: string[], message: string }>
  return found.map((violation) => `${execution.item.name}: ${violation.location.join('.')} ${violation.message}`)
}

t.test('the Postman walk-through passes against the seeded demo, through Prism with no violation', async (t) => {
  const summary = await runCollection(prismUrl)
  const { stats, failures, executions } = summary.run
  for (const failure of failures) {
    t.comment(`${failure.source?.name ?? '?'}: ${failure.error.name}: ${failure.error.message}`)
  }
  t.same(executions.flatMap(violations), [], 'Prism finds no request or response that breaks the document')
  t.equal(failures.length, 0, 'no failures')
  t.equal(stats.requests.failed, 0, 'every request got an answer')
  t.equal(stats.assertions.failed, 0, 'every test script assertion passed')
  t.equal(stats.testScripts.failed, 0, 'no test script threw')
  t.equal(executions.length, requestCount(JSON.parse(await readFile(collectionFile, 'utf8'))), 'every request in the collection ran')
  t.same(
    executions.filter((execution) => execution.response === undefined || (execution.assertions ?? []).length === 0)
      .map((execution) => execution.item.name),
    [],
    'every request was answered and tested'
  )
})
