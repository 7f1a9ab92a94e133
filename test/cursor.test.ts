import { createHmac } from 'node:crypto'
import t from 'tap'
import { createCursors } from '../api/cursor.js'

/** The seal, made as the README says: the first 128 bits of HMAC-SHA256 of the payload text, base64url. */
function sealOf (key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest().subarray(0, 16).toString('base64url')
}

t.test('a feed cursor is its JSON, base64url, and an HMAC-SHA256 seal of that, under the first key', async (t) => {
  const keys = [Buffer.alloc(32, 7), Buffer.alloc(32, 9)]
  const cursors = createCursors(keys)
  for (const [userId, seenUpTo, changesAfter] of [
    [1, new Map(), new Map()],
    [42, new Map([[3, 12]]), new Map([[3, 12]])],
    [7, new Map([[10, 1], [9, 2_000_000], [100, 0]]), new Map([[100, 5], [9, 1]])]
  ] as const) {
    const cursor = cursors.sealFeed(userId, { seenUpTo, changesAfter })
    const [payload = '', seal] = cursor.split('.')
    const byRoom = (numbers: ReadonlyMap<number, number>) => Object.fromEntries([...numbers].sort(([a], [b]) => a - b))
    t.equal(Buffer.from(payload, 'base64url').toString(), JSON.stringify({ k: 'feed', u: userId, v: { s: byRoom(seenUpTo), c: byRoom(changesAfter) } }), 'the JSON, rooms in id order')
    t.equal(seal, sealOf(keys[0] as Buffer, payload), 'the seal is createHmac\'s')
    t.same(cursors.openFeed(userId, cursor), { position: { seenUpTo: new Map(seenUpTo), changesAfter: new Map(changesAfter) }, trusted: true }, 'and it opens')
  }
})

t.test('every key opens; a seal from another key, or over other bytes, does not', async (t) => {
  const [older, newer] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)]
  const before = createCursors([older]).sealPage('id', 5)
  t.equal(createCursors([newer, older]).openPage(before, 'id'), 5, 'a cursor sealed with a key still listed opens')
  t.throws(() => createCursors([newer]).openPage(before, 'id'), 'one whose key is gone does not')
  // Characters outside ASCII are hashed as UTF-8, as createHmac does: one that hashed to the bytes of a real payload
  // (a code unit's low byte, say) would let an edited payload keep a real seal.
  const [payload = '', seal] = before.split('.')
  const edited = `${String.fromCharCode(0x100 + payload.charCodeAt(0))}${payload.slice(1)}`
  t.throws(() => createCursors([older]).openPage(`${edited}.${seal ?? ''}`, 'id'), 'a payload edited outside ASCII is refused')
  const long = Buffer.from(JSON.stringify({ k: 'id', v: 9, pad: 'y'.repeat(1000) })).toString('base64url')
  t.equal(createCursors([older]).openPage(`${long}.${sealOf(older, long)}`, 'id'), 9, 'a payload longer than the usual is hashed whole')
})
