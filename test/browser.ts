import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import type { Teardown } from '../harness/test-config.js'
import { pushContractOf } from './asyncapi-contract.js'
import { assertDocumented } from './helper.js'
import type { Frame } from './socket-client.js'

/** A name that is not `localhost` nor a loopback address, for pages a browser treats as an ordinary http site. */
export const plainHttpHost = 'pigeon.test'

/**
 * Debian's Chromium, headless, closed at teardown. It talks to nothing but the test's server (no updates, no sync,
 * no background fetches), and `plainHttpHost` resolves to this machine.
 */
export async function launchBrowser (t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--no-first-run',
      `--host-resolver-rules=MAP ${plainHttpHost} 127.0.0.1`
    ]
  })
  t.teardown(() => browser.close())
  return browser
}

/** An answer a page received, checked against the OpenAPI document as every answer in the tests is; its JSON. */
export async function documentedJson<T> (response: Response): Promise<T> {
  const body = await response.text()
  await assertDocumented({ method: response.request().method(), url: response.url(), status: response.status(), headers: response.headers(), body })
  return JSON.parse(body) as T
}

/** The frames a page's sockets received; `heard` waits for one. */
export interface PageFrames {
  /** The first frame received that matches, now or once it comes. */
  heard: (match: (frame: Frame) => boolean) => Promise<Frame>
}

/**
 * Records every frame the page's sockets receive, from now on, and checks each against the AsyncAPI document the
 * server at `origin` serves, as the tests' own socket client does: what the document does not allow goes into
 * `mismatches`, for a test to find empty.
 */
export async function recordSocketFrames (page: Page, origin: string, mismatches: string[]): Promise<PageFrames> {
  const contract = await pushContractOf(origin)
  const frames: Frame[] = []
  const listeners = new Set<() => void>()
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => {
    const frame = JSON.parse(String(payload)) as Frame
    for (const found of contract.checkSocketFrame(frame)) mismatches.push(`${JSON.stringify(frame).slice(0, 300)}: ${found}`)
    frames.push(frame)
    for (const listener of listeners) listener()
  }))
  return {
    heard: async (match) => await new Promise<Frame>((resolve) => {
      const look = () => {
        const found = frames.find(match)
        if (found === undefined) return
        listeners.delete(look)
        resolve(found)
      }
      listeners.add(look)
      look()
    })
  }
}
