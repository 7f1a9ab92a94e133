/**
 * The pattern for text people type (messages, names): not only white space, and no U+0000, which a
 * Postgres text column cannot hold (it would fail at insert, long after the request was accepted).
 */
export const typedTextPattern = '^(?!\\s*$)[^\\u0000]*$'

/** Any text a Postgres text column can hold (blank allowed): everything but U+0000. */
export const storableTextPattern = '^[^\\u0000]*$'
