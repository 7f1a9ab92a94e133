import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { documentedJson, launchBrowser, plainHttpHost } from './browser.js'
import { createUser, testApp, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, getUnseen, sendAllAndStore, waitForTask, type MessageBody } from './messaging-helper.js'

// Swagger UI at /docs, in Chromium, as a newcomer uses it: by whatever name the server has, authorized with a token,
// pressing "Try it out" and "Execute" with what the page fills in. The timeouts only bound a stuck run.
t.setTimeout(300_000)
const config = await testConfig(t)
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as AddressInfo).port
const browser = await launchBrowser(t)

const operationCount = Object.values((await app.inject({ url: '/openapi.json' })).json().paths as Record<string, object>)
  .reduce((count, methods) => count + Object.keys(methods).length, 0)

async function openDocs (host: string): Promise<Page> {
  const context = await browser.newContext()
  context.setDefaultTimeout(60_000)
  const page = await context.newPage()
  await page.goto(`http://${host}:${port}/docs`)
  await page.locator('.opblock').first().waitFor()
  return page
}

async function authorize (page: Page, who: TestUser): Promise<void> {
  await page.click('button.authorize')
  await page.fill('.auth-container input', who.accessToken)
  await page.click('.auth-btn-wrapper button.authorize')
  await page.click('.auth-btn-wrapper button.btn-done')
}

/** Opens an operation and presses "Try it out": its fields as Swagger UI filled them in. */
async function tryItOut (page: Page, operationId: string, tag: string) {
  const operation = page.locator(`#operations-${tag}-${operationId}`)
  await operation.locator('.opblock-summary').first().click()
  await operation.locator('button.try-out__btn').click()
  return {
    field: (name: string) => operation.locator(`tr[data-param-name="${name}"] input`),
    /** Presses Execute: the API's answer, checked against the document. */
    async execute<T> (path: RegExp): Promise<{ status: number, body: T }> {
      const [response] = await Promise.all([
        page.waitForResponse((response) => path.test(new URL(response.url()).pathname) && response.request().resourceType() === 'fetch'),
        operation.locator('button.execute').click()
      ])
      return { status: response.status(), body: await documentedJson<T>(response) }
    }
  }
}

for (const host of ['127.0.0.1', plainHttpHost]) {
  t.test(`/docs opened as http://${host} lists every operation`, async (t) => {
    const page = await openDocs(host)
    t.equal(await page.locator('.opblock').count(), operationCount, 'one block per operation of the document')
    t.ok(await page.locator('#operations-messages-sendToRoom').isVisible(), 'the send is among them')
    await page.context().close()
  })
}

t.test('"Try it out" as filled in loses nothing and is refused nothing', async (t) => {
  const [alice, bob] = [await createUser(app, 'alice'), await createUser(app, 'bob')]
  const room = await createGroupRoom(app, bob, 'docs', [alice])
  const fromBob = await sendAllAndStore(app, bob, room.id, ['one', 'two', 'three'])
  const page = await openDocs('127.0.0.1')
  await authorize(page, alice)

  const send = await tryItOut(page, 'sendToRoom', 'messages')
  t.equal(await send.field('idempotency-key').inputValue(), '', 'no Idempotency-Key is filled in')
  await send.field('id').fill(String(room.id))
  const sends = [await send.execute<{ taskId: string }>(/\/messages$/), await send.execute<{ taskId: string }>(/\/messages$/)]
  t.same(sends.map((answer) => answer.status), [202, 202], 'the same send twice is accepted twice')
  t.not(sends[0]?.body.taskId, sends[1]?.body.taskId, 'as two tasks')
  const tasks = await Promise.all(sends.map(async (answer) => await waitForTask(app, alice, answer.body.taskId)))
  t.same(tasks.map((task) => task.state), ['completed', 'completed'], 'and both are stored')

  const feed = await tryItOut(page, 'listUnseen', 'messages')
  t.equal(await feed.field('cursor').inputValue(), '', 'no cursor is filled in')
  const reads = [await feed.execute<{ items: MessageBody[] }>(/\/unseen$/), await feed.execute<{ items: MessageBody[] }>(/\/unseen$/)]
  const ids = fromBob.map((message) => message.id)
  t.same(reads.map((answer) => answer.status), [200, 200])
  t.same(reads.map((answer) => answer.body.items.map((message) => message.id)), [ids, ids], 'both reads give bob\'s three messages')
  t.same((await getUnseen(app, alice)).json().items.map((message: MessageBody) => message.id), ids, 'which are still unseen afterwards')

  const rooms = await tryItOut(page, 'listRooms', 'rooms')
  t.equal(await rooms.field('cursor').inputValue(), '', 'no cursor is filled in')
  const listed = await rooms.execute<{ items: Array<{ id: number, unreadCount: number }> }>(/\/rooms$/)
  t.equal(listed.status, 200)
  t.match(listed.body.items, [{ id: room.id, unreadCount: 3 }], 'my rooms are listed, with nothing read')
})
