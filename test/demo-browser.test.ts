import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { testConfig } from '../harness/test-config.js'
import { launchBrowser, recordSocketFrames, type PageFrames } from './browser.js'
import { createUser, testApp, testWorkers, type TestUser } from './helper.js'
import { changeAndApply, createGroupRoom, eventually, getUnseen, sendAndStore, type MessageBody } from './messaging-helper.js'
import type { Frame } from './socket-client.js'

// The /demo chat page in Chromium: people chat, read their rooms, edit, delete and log out, while the page keeps
// its token fresh. Every wait is for something the page shows; the timeouts only bound a stuck run.
t.setTimeout(300_000)
const config = await testConfig(t)
const app = await testApp(t, config)
// The same deployment with access tokens that expire within the test: the page must refresh them as it goes.
const shortLived = await testApp(t, { ...config, ACCESS_TOKEN_TTL_SECONDS: 6 })
// And one where a user with no connection left goes offline 3 s after it (not a minute): the presence test waits for it.
const quickPresence = await testApp(t, { ...config, PRESENCE_WINDOW_SECONDS: 3 })
testWorkers(t, config)
const baseOf = async (server: FastifyInstance) => {
  await server.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
}
const [base, shortLivedBase, quickPresenceBase] = [await baseOf(app), await baseOf(shortLived), await baseOf(quickPresence)]
const browser = await launchBrowser(t)

/** What the page's Content-Security-Policy refused, on any page of this file: checked by the last test. */
const blockedByPolicy: string[] = []
/** The frames any page of this file received that the AsyncAPI document does not allow: checked by the last test. */
const notInAsyncApi: string[] = []
const framesOf = new Map<Page, PageFrames>()

/** A page of its own (its own storage), on /demo, closed with the test; it answers yes to "Delete …?". */
async function openDemo (t: Test, at = base): Promise<Page> {
  const context = await browser.newContext()
  context.setDefaultTimeout(60_000)
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.on('console', (message) => { if (/Content.Security.Policy/i.test(message.text())) blockedByPolicy.push(message.text()) })
  page.on('dialog', (dialog) => { dialog.accept().catch(() => {}) })
  framesOf.set(page, await recordSocketFrames(page, at, notInAsyncApi))
  await page.goto(`${at}/demo`)
  return page
}

async function logIn (t: Test, who: TestUser, at = base): Promise<Page> {
  const page = await openDemo(t, at)
  await page.fill('#username', who.username)
  await page.fill('#password', who.password)
  await page.click('#login button')
  await page.locator('#rooms button').first().waitFor()
  return page
}

const roomButton = (page: Page, roomId: number) => page.locator(`#rooms button[data-room-id="${roomId}"]`)

async function openRoom (page: Page, roomId: number): Promise<void> {
  await roomButton(page, roomId).click()
  await page.locator(`#rooms button[data-room-id="${roomId}"][aria-current]`).waitFor()
}

async function say (page: Page, text: string): Promise<void> {
  await page.fill('#text', text)
  await page.click('#send-button')
}

/** The open room as the page shows it: "who: text" per message, in order. */
async function lines (page: Page): Promise<string[]> {
  return await page.locator('#log li').evaluateAll((items) => items.map((item) =>
    `${item.querySelector('.who')?.textContent ?? '?'}: ${item.querySelector('.text')?.textContent ?? '?'}`))
}

const line = (page: Page, text: string) => page.locator('#log li', { has: page.locator('.text', { hasText: text }) })

t.test('what one page sends arrives live on the other, and in a long poll', async (t) => {
  const [alice, bob, carol] = [await createUser(app, 'alice'), await createUser(app, 'bob'), await createUser(app, 'carol')]
  const room = await createGroupRoom(app, alice, 'demo', [bob, carol])
  const [alicePage, bobPage] = [await logIn(t, alice), await logIn(t, bob)]
  await openRoom(alicePage, room.id)
  await openRoom(bobPage, room.id)

  // Carol long-polls, as curl in a terminal would.
  const polled = getUnseen(app, carol, { wait: 20 })
  await say(alicePage, 'hello from a browser')
  await line(bobPage, 'hello from a browser').waitFor()
  await alicePage.locator('#log li.mine', { hasText: 'hello from a browser' }).waitFor()
  t.same((await polled).json().items.map((m: MessageBody) => m.text), ['hello from a browser'], 'the long poll saw the same message')

  await say(bobPage, 'hi alice, live')
  await line(alicePage, 'hi alice, live').waitFor()
  t.same(await lines(alicePage), ['alice: hello from a browser', 'bob: hi alice, live'], 'alice sees the conversation in order')
  t.same(await lines(bobPage), ['alice: hello from a browser', 'bob: hi alice, live'], 'and so does bob')
})

t.test('logged in: who I am instead of the form, my rooms with their unread counts, and when each message came', async (t) => {
  const [dave, erin] = [await createUser(app, 'dave'), await createUser(app, 'erin')]
  const lobby = await createGroupRoom(app, dave, 'lobby', [erin])
  const news = await createGroupRoom(app, erin, 'news', [dave])
  const sent = [await sendAndStore(app, erin, news.id, 'first'), await sendAndStore(app, erin, news.id, 'second')]

  const page = await logIn(t, dave)
  t.ok(await page.locator('#login').isHidden(), 'the log-in form is gone')
  t.equal(await page.locator('#me').textContent(), 'dave', 'the page says who is logged in')
  t.ok(await page.locator('#logout').isVisible(), 'and offers to log out')
  await page.locator(`#rooms button[data-room-id="${lobby.id}"][aria-current]`).waitFor()
  t.same(await page.locator('#rooms button').allTextContents(), ['lobby', 'news 2'], 'the first room is open; the other has two unread')

  sent.push(await sendAndStore(app, erin, news.id, 'third'))
  await roomButton(page, news.id).locator('.unread', { hasText: '3' }).waitFor()
  t.pass('a message to a room not open counts at once')

  await openRoom(page, news.id)
  await line(page, 'third').waitFor()
  t.equal(await roomButton(page, news.id).locator('.unread').count(), 0, 'opening the room reads it')
  t.same(await lines(page), ['erin: first', 'erin: second', 'erin: third'])
  t.same(await page.locator('#log li time').evaluateAll((times) => times.map((time) => time.getAttribute('datetime'))),
    sent.map((message) => message.createdAt), 'each message shows when it was sent')
  const rooms = await eventually(
    async () => (await app.inject({ url: '/v1/rooms', headers: dave.auth })).json().items as Array<{ id: number, unreadCount: number }>,
    (items) => items.find((room) => room.id === news.id)?.unreadCount === 0)
  t.ok(rooms, 'and the server counts it read too')
})

t.test('I edit and delete my messages on the page; edits and deletes of others arrive live', async (t) => {
  const [frank, gina] = [await createUser(app, 'frank'), await createUser(app, 'gina')]
  const room = await createGroupRoom(app, frank, 'changes', [gina])
  const [frankPage, ginaPage] = [await logIn(t, frank), await logIn(t, gina)]

  await say(frankPage, 'helo wrld')
  await line(ginaPage, 'helo wrld').waitFor()
  await line(frankPage, 'helo wrld').locator('button.edit').click()
  t.equal(await frankPage.inputValue('#text'), 'helo wrld', 'Edit puts the text in the box')
  await frankPage.fill('#text', 'hello world')
  await frankPage.click('#send-button')
  for (const page of [frankPage, ginaPage]) await line(page, 'hello world').locator('.edited').waitFor()
  t.same(await lines(ginaPage), ['frank: hello world'], 'the edit replaces the message on the other page, marked edited')
  t.equal(await ginaPage.locator('#log button.edit').count(), 0, 'where it cannot be edited')

  await line(frankPage, 'hello world').locator('button.delete').click()
  for (const page of [frankPage, ginaPage]) await page.locator('#log li.deleted').waitFor()
  for (const page of [frankPage, ginaPage]) {
    t.same(await lines(page), ['frank: message deleted'], 'a deleted message is shown as deleted')
    t.equal(await page.locator('#log li.deleted button').count(), 0, 'with nothing left to do to it')
  }

  const fromGina = await sendAndStore(app, gina, room.id, 'from gina')
  await line(frankPage, 'from gina').waitFor()
  await changeAndApply(app, gina, fromGina.id, 'from gina, corrected')
  await line(frankPage, 'from gina, corrected').locator('.edited').waitFor()
  await changeAndApply(app, gina, fromGina.id, null)
  await frankPage.locator(`#log li.deleted[data-id="${fromGina.id}"]`).waitFor()
  t.same(await lines(frankPage), ['frank: message deleted', 'gina: message deleted'], 'edits and deletes by others are applied as they happen')
  t.notOk((await frankPage.locator('#log').textContent())?.includes('null'), 'no "null" anywhere')
})

t.test('log out: the form comes back and the login\'s refresh token stops working', async (t) => {
  const harry = await createUser(app, 'harry')
  await createGroupRoom(app, harry, 'solo')
  const page = await openDemo(t)
  await page.fill('#username', harry.username)
  await page.fill('#password', harry.password)
  const [login] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/v1/auth/token')), page.click('#login button')])
  const { refreshToken } = await login.json() as { refreshToken: string }
  await page.locator('#rooms button').first().waitFor()

  const [logout] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/v1/auth/logout')), page.click('#logout')])
  t.equal(logout.status(), 204)
  await page.locator('#login').waitFor()
  t.ok(await page.locator('#chat').isHidden(), 'the chat is gone')
  t.ok(await page.locator('#session').isHidden(), 'and so is who was logged in')
  const refreshed = await app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })
  t.equal(refreshed.statusCode, 401, 'the login is over on the server too')
})

t.test('the page refreshes its token before it expires and resumes the feed from its last cursor', async (t) => {
  const [ivy, jack] = [await createUser(app, 'ivy'), await createUser(app, 'jack')]
  const room = await createGroupRoom(app, jack, 'long chat', [ivy])
  const page = await logIn(t, ivy, shortLivedBase)
  const refreshes: number[] = []
  page.on('response', (response) => { if (response.url().endsWith('/v1/auth/refresh')) refreshes.push(response.status()) })
  const resumed = page.waitForEvent('websocket', { predicate: (socket) => new URL(socket.url()).searchParams.has('cursor'), timeout: 120_000 })

  await sendAndStore(app, jack, room.id, 'before')
  await line(page, 'before').waitFor()
  await resumed
  t.pass('a refreshed token opened a socket that resumes from the last cursor')
  // Past the first token's life: the one after the next refresh is at least the third.
  await page.waitForResponse((response) => response.url().endsWith('/v1/auth/refresh'), { timeout: 120_000 })

  await sendAndStore(app, jack, room.id, 'after')
  await line(page, 'after').waitFor()
  t.same(await lines(page), ['jack: before', 'jack: after'], 'nothing lost, nothing twice')
  t.ok(await page.locator('#login').isHidden(), 'still logged in')
  t.ok(refreshes.length >= 2 && refreshes.every((status) => status === 200), `every refresh succeeded (${refreshes.join(', ')})`)
  const unseen = await eventually(async () => (await getUnseen(app, ivy)).json().items as MessageBody[],
    (items) => !items.some((message) => message.text === 'before'))
  t.notOk(unseen.some((message) => message.text === 'before'), 'the resume acknowledged what the page had been sent')
})

/** Waits until the page shows this member of the open room with this presence (its dot). */
async function showsPresence (page: Page, who: TestUser, presence: 'online' | 'idle' | 'offline'): Promise<void> {
  await page.locator(`#members li[data-member-id="${who.id}"][data-presence="${presence}"]`).waitFor()
}

/** As if the page's tab went out of sight, or came back: a headless page is always in sight, so it is told so. */
async function setHidden (page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(`Object.defineProperty(document, 'hidden', { value: ${String(hidden)}, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'))`)
}

/** The first frame the page received that matches, now or once it comes. */
async function heard (page: Page, match: (frame: Frame) => boolean): Promise<Frame> {
  const frames = framesOf.get(page)
  if (frames === undefined) throw new Error('a page not opened by openDemo')
  return await frames.heard(match)
}

const typingLine = (page: Page, text: string) => page.locator('#typing', { hasText: text })
const stoppedTyping = (who: TestUser) => (frame: Frame) => frame.type === 'typing' && frame.data.userId === who.id && frame.data.typing === false

t.test('two pages see each other come online, type, go idle, and go offline once closed', async (t) => {
  const [kate, liam] = [await createUser(app, 'kate'), await createUser(app, 'liam')]
  await createGroupRoom(app, kate, 'who is here', [liam])

  const firstKatePage = await logIn(t, kate, quickPresenceBase)
  await showsPresence(firstKatePage, liam, 'offline')
  const liamPage = await logIn(t, liam, quickPresenceBase)
  await showsPresence(firstKatePage, liam, 'online')
  t.pass('kate sees liam come online')
  await showsPresence(liamPage, kate, 'online')
  await firstKatePage.close()
  await showsPresence(liamPage, kate, 'offline')
  t.pass('liam sees kate go offline once her page closed')
  const katePage = await logIn(t, kate, quickPresenceBase)
  await showsPresence(liamPage, kate, 'online')
  t.pass('and come online again')
  await showsPresence(katePage, liam, 'online')

  await katePage.fill('#text', 'are you there?')
  await typingLine(liamPage, 'kate is typing…').waitFor()
  t.pass('liam sees kate typing')
  const kateStopped = heard(liamPage, stoppedTyping(kate))
  await katePage.press('#text', 'Enter')
  await kateStopped
  await typingLine(liamPage, 'typing').waitFor({ state: 'detached' })
  await line(liamPage, 'are you there?').waitFor()
  t.pass('and stop when she sends')

  await liamPage.fill('#text', 'here')
  await typingLine(katePage, 'liam is typing…').waitFor()
  t.pass('kate sees liam typing')
  const liamStopped = heard(katePage, stoppedTyping(liam))
  await liamPage.locator('#text').blur()
  await liamStopped
  await typingLine(katePage, 'typing').waitFor({ state: 'detached' })
  t.pass('and stop when he leaves the box')

  await setHidden(katePage, true)
  await showsPresence(liamPage, kate, 'idle')
  await setHidden(katePage, false)
  await showsPresence(liamPage, kate, 'online')
  t.pass('liam sees kate idle while her page is out of sight')

  await liamPage.close()
  await showsPresence(katePage, liam, 'offline')
  t.pass('kate sees liam go offline once his page closed')
  const read = await quickPresence.inject({ url: `/v1/users/${liam.id}`, headers: kate.auth })
  t.equal(read.json().presence, 'offline', 'as the API answers')
})

t.test('the page\'s own Content-Security-Policy let it do all of that, and every frame it got is in the AsyncAPI document', async (t) => {
  t.same(blockedByPolicy, [], 'nothing was blocked')
  t.same(notInAsyncApi, [], 'every frame matched')
})
