import { chromium, type Browser, type Response } from 'playwright-core'
import type { Teardown } from '../harness/test-config.js'
import { assertDocumented } from './helper.js'

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
