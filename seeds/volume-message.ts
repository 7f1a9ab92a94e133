import { chatWords, rareWords, tailSyllables } from './chat-words.js'

/**
 * Volume message n, from its number alone: its room, its sender and its text. Every choice is a number in [0, 1)
 * drawn from n's k-th hash, which is Postgres's own `hashint8(n * 128 + k)` computed here: the seed drew these in SQL
 * before, and the same numbers still give the same messages, so a database seeded then grows with the same data.
 * Made here rather than in SQL because a text is a dozen lookups, which cost the seed's Postgres backend most of its
 * time when each was an expression in a nested `generate_series`.
 */

const rotate = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0

/** Postgres's `hash_uint32` (Bob Jenkins' final mix, src/common/hashfn.c), on unsigned 32-bit numbers. */
function hashUint32 (key: number): number {
  let a = (0x9e3779b9 + 4 + 3923095) >>> 0
  let b = a
  let c = a
  a = (a + key) >>> 0
  c = ((c ^ b) - rotate(b, 14)) >>> 0
  a = ((a ^ c) - rotate(c, 11)) >>> 0
  b = ((b ^ a) - rotate(a, 25)) >>> 0
  c = ((c ^ b) - rotate(b, 16)) >>> 0
  a = ((a ^ c) - rotate(c, 4)) >>> 0
  b = ((b ^ a) - rotate(a, 14)) >>> 0
  c = ((c ^ b) - rotate(b, 24)) >>> 0
  return c
}

/** `(hashint8(n * 128 + k) & 2147483647)::float8 / 2147483648`: n and k whole, n * 128 + k ≥ 0 and below 2^53. */
export function draw (n: number, k: number): number {
  const value = n * 128 + k
  // hashint8 folds the high half into the low one (both unsigned for a value ≥ 0) and hashes that.
  const folded = (value >>> 0) ^ (Math.floor(value / 2 ** 32) >>> 0)
  return (hashUint32(folded >>> 0) & 0x7fffffff) / 2147483648
}

/** The room (from 0) of message n among `rooms`: skewed, so the first holds 37 % of 20 rooms' messages, the last 1.7 %. */
export function volumeRoomOf (n: number, rooms: number): number {
  return Math.min(Math.floor(Math.pow(draw(n, 125), 3) * rooms), rooms - 1)
}

/** Room r's share of the messages: n is in room r when draw(n, 125)³ is in [r / rooms, (r + 1) / rooms). */
export function volumeRoomShare (r: number, rooms: number): number {
  return Math.cbrt((r + 1) / rooms) - Math.cbrt(r / rooms)
}

/**
 * Which of `users` volume users (from 0, by id) sends message n in room r: one of the room's members, the k-th with
 * k a multiple of r + 1.
 */
export function volumeSenderOf (n: number, r: number, users: number): number {
  return (r + 1) * Math.floor(draw(n, 124) * Math.ceil(users / (r + 1)))
}

/**
 * Message n's text: 3–14 words, each from the chat words (skewed to the front) or, one time in seven, from the long
 * tail (two or three syllables); one message in a thousand ends with a rare word.
 */
export function volumeText (n: number): string {
  const words: string[] = []
  const count = 3 + Math.floor(draw(n, 0) * 12)
  for (let k = 1; k <= count; k++) {
    if (draw(n, k + 16) < 0.85) {
      words.push(chatWords[Math.floor(Math.pow(draw(n, k), 2.5) * chatWords.length)] as string)
    } else {
      let word = ''
      const syllables = 2 + Math.floor(draw(n, k + 48) * 2)
      for (let j = 0; j < syllables; j++) {
        word += tailSyllables[Math.floor(Math.pow(draw(n, k * 4 + j + 64), 1.5) * tailSyllables.length)] as string
      }
      words.push(word)
    }
  }
  const text = words.join(' ')
  return draw(n, 127) < 0.001 ? `${text} ${rareWords[Math.floor(draw(n, 126) * rareWords.length)] as string}` : text
}
