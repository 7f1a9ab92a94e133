import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import newman, { type NewmanRunSummary } from 'newman'
import t from 'tap'
import { collectionFile, environmentFile } from '../scripts/postman.js'
import { seedDemo } from '../seeds/seed-demo.js'
import { testApp, testConfig, testDb, testWorkers } from './helper.js'

// The committed collection, run headless against a freshly seeded demo with real workers, as a user would.
const config = await testConfig(t)
await seedDemo(testDb(t, config))
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo

function runCollection (): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run({
      collection: collectionFile,
      environment: environmentFile,
      envVar: [{ key: 'baseUrl', value: `http://127.0.0.1:${port}` }],
      reporters: [],
      timeoutRequest: 20_000
    }, (error, summary) => { if (error !== null) reject(error); else resolve(summary) })
  })
}

function requestCount (folder: { item?: unknown[] }): number {
  return (folder.item ?? []).reduce<number>((sum, item) => sum + ((item as { item?: unknown[] }).item === undefined ? 1 : requestCount(item as { item?: unknown[] })), 0)
}

t.test('the Postman walk-through passes against the seeded demo', async (t) => {
  const summary = await runCollection()
  const { stats, failures, executions } = summary.run
  for (const failure of failures) {
    t.comment(`${failure.source?.name ?? '?'}: ${failure.error.name}: ${failure.error.message}`)
  }
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
