import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { launchBrowser, plainHttpHost } from './browser.js'
import { testApp } from './helper.js'

// Swagger UI at /docs, in Chromium, as a newcomer uses it: by whatever name the server has.
const config = await testConfig(t)
const app = await testApp(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as AddressInfo).port
const browser = await launchBrowser(t)

const operationCount = Object.values((await app.inject({ url: '/openapi.json' })).json().paths as Record<string, object>)
  .reduce((count, methods) => count + Object.keys(methods).length, 0)

async function openDocs (host: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  await page.goto(`http://${host}:${port}/docs`)
  await page.locator('.opblock').first().waitFor()
  return page
}

for (const host of ['127.0.0.1', plainHttpHost]) {
  t.test(`/docs opened as http://${host} lists every operation`, async (t) => {
    const page = await openDocs(host)
    t.equal(await page.locator('.opblock').count(), operationCount, 'one block per operation of the document')
    t.ok(await page.locator('#operations-messages-sendToRoom').isVisible(), 'the send is among them')
    await page.context().close()
  })
}
