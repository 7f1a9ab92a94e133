import { createCursors, cursorKeysOf, type Cursors } from '../api/cursor.js'
import type { Config } from '../core/config.js'

/** A cursor in the format from before cursors were sealed: base64url JSON, no seal. */
export function unsealedCursor (kind: string, value: unknown): string {
  return Buffer.from(JSON.stringify({ k: kind, v: value })).toString('base64url')
}

/** Cursors sealed with a deployment's own key, saying whatever a test needs: as if its server had made them. */
export function sealedBy (config: Config): Cursors {
  return createCursors(cursorKeysOf(config))
}

/** A sealed cursor with what it says changed and its seal kept, as a client editing one would send it. */
export function editedCursor (cursor: string, edit: (content: any) => unknown): string {
  const [payload = '', seal] = cursor.split('.')
  const content: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  return `${Buffer.from(JSON.stringify(edit(content))).toString('base64url')}.${seal}`
}
