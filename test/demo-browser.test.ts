import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'
import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp, testWorkers, type TestUser } from './helper.js'
import { createGroupRoom, getUnseen, type MessageBody } from './messaging-helper.js'

// Debian's chromium, driven headless: two people chat on /demo while a third client long-polls.
const config = await testConfig(t)
const app = await testApp(t, config)
testWorkers(t, config)
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
t.teardown(() => browser.close())

async function logIn (who: TestUser, roomId: number): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  await page.goto(`${base}/demo`)
  await page.fill('#username', who.username)
  await page.fill('#password', who.password)
  await page.click('#login button')
  await page.waitForSelector('#chat:not([hidden])')
  await page.selectOption('#room', String(roomId))
  return page
}

async function say (page: Page, text: string): Promise<void> {
  await page.fill('#text', text)
  await page.click('#send button')
}

t.test('what one page sends arrives live on the other, and in a long poll', async (t) => {
  const [alice, bob, carol] = [await createUser(app, 'alice'), await createUser(app, 'bob'), await createUser(app, 'carol')]
  const room = await createGroupRoom(app, alice, 'demo', [bob, carol])
  const [alicePage, bobPage] = [await logIn(alice, room.id), await logIn(bob, room.id)]

  // Carol long-polls, as curl in a terminal would.
  const polled = getUnseen(app, carol, { wait: 20 })
  await say(alicePage, 'hello from a browser')
  await bobPage.locator('#log li', { hasText: 'alice: hello from a browser' }).waitFor()
  await alicePage.locator('#log li.mine', { hasText: 'hello from a browser' }).waitFor()
  t.same((await polled).json().items.map((m: MessageBody) => m.text), ['hello from a browser'], 'the long poll saw the same message')

  await say(bobPage, 'hi alice, live')
  await alicePage.locator('#log li', { hasText: 'bob: hi alice, live' }).waitFor()
  t.same(await alicePage.locator('#log li').allTextContents(), ['alice: hello from a browser', 'bob: hi alice, live'], 'alice sees the conversation in order')
  t.same(await bobPage.locator('#log li').allTextContents(), ['alice: hello from a browser', 'bob: hi alice, live'], 'and so does bob')
})
