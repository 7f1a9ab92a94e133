/**
 * Characters a Postgres text column cannot hold faithfully: U+0000 is refused at insert (long after the request was
 * accepted) and a lone UTF-16 surrogate is stored as U+FFFD, silently changing the text. A surrogate is allowed only
 * as half of a pair; the pattern reads the same with and without the regex `u` flag.
 */
const storableChar = '(?:[^\\u0000\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])'

/**
 * Characters that show nothing on their own: white space, plus zero-width and formatting characters (soft hyphen,
 * zero-width space and joiners, direction marks, word joiner and invisible operators, variation selectors, Hangul
 * fillers, the BOM). A text made only of these looks blank, so it counts as blank.
 */
const invisibleChar = '[\\s\\u00AD\\u034F\\u061C\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u206F\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0]'

/** The pattern for text people type (messages, names): something visible, and storable as sent. */
export const typedTextPattern = `^(?!${invisibleChar}*$)${storableChar}*$`

/** Any text a Postgres text column can hold as sent (blank allowed). */
export const storableTextPattern = `^${storableChar}*$`
