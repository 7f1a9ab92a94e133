import { chromium, type Browser } from 'playwright-core'
import type { Teardown } from '../harness/test-config.js'

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
