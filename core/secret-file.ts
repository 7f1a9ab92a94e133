import { randomBytes } from 'node:crypto'
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'

const errorCode = (error: unknown) => (error as { code?: unknown }).code

/**
 * The secret kept in `file`, made on first use (random, readable by its owner only), so that what it signs outlives
 * a restart. Undefined when there is none and none can be made (a read-only directory, say).
 */
export function secretFromFile (file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') return undefined
  }
  // Written aside, then linked into place: two processes starting at once end up with the one secret, whole.
  const draft = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(draft, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
    linkSync(draft, file)
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') return undefined
  } finally {
    try { unlinkSync(draft) } catch {}
  }
  return readFileSync(file, 'utf8').trim() || undefined
}
