import { storableTextPattern, typedTextPattern } from '../../core/text.js'

export const usernamePattern = '^[A-Za-z0-9_.-]+$'
export const taskIdPattern = '^[A-Za-z0-9:_-]+$'

/** What each pattern of the request schemas asks, in words: a value that fails one is told these, never the pattern. */
export const patternRules: ReadonlyMap<string, string> = new Map([
  [typedTextPattern, 'must not be blank (only white space or invisible characters), nor hold U+0000 or a lone UTF-16 surrogate'],
  [storableTextPattern, 'must not hold U+0000 or a lone UTF-16 surrogate'],
  [usernamePattern, 'may hold only letters, digits, `_`, `.` and `-`'],
  [taskIdPattern, 'may hold only letters, digits, `:`, `_` and `-`']
])
