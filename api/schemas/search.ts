import { Type } from 'typebox'
import { rankWindow } from '../../core/search.js'
import { typedTextPattern } from '../../core/text.js'
import { IdSchema } from './common.js'
import { MessageSchema } from './messages.js'

export const SearchQuerySchema = Type.Object({
  q: Type.String({
    minLength: 1,
    maxLength: 256,
    pattern: typedTextPattern,
    description: [
      'What to find, as in a web search engine: words (all of them must be in a message, in any order; letter case and',
      'accents do not matter), `"an exact phrase"`, `or` between alternatives, `-word` to leave out messages with it.',
      'At most 256 characters, with at least one word to look up'
    ].join(' '),
    examples: ['deploy "staging server" -rollback']
  }),
  order: Type.Union([Type.Literal('newest'), Type.Literal('rank')], {
    default: 'newest',
    description: `\`newest\`: newest first, through all my rooms' history. \`rank\`: best match first (Postgres \`ts_rank\`), among the ${rankWindow.toLocaleString('en-US')} newest matches`,
    examples: ['newest']
  }),
  roomId: Type.Optional({ ...IdSchema, description: 'Only this room (one I am in; another is 404)' }),
  senderId: Type.Optional({ ...IdSchema, description: 'Only messages this user sent' }),
  cursor: Type.Optional(Type.String({
    maxLength: 512,
    description: 'The `nextCursor` of the previous page, with the same `q`, `order` and filters, exactly as given (sealed by the server: an edited one, or one of the other order, is 400 `INVALID_CURSOR`)'
  })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Hits per page', examples: [20] })
})

export const SearchHitSchema = Type.Object({
  ...MessageSchema.properties,
  rank: Type.Number({ minimum: 0, description: 'How well the message matches (`ts_rank`): higher is better', examples: [0.0607927] }),
  highlight: Type.String({
    description: 'The text (a long one cut to about 35 words around the matches) as HTML: escaped, each matching word in `<mark>`. Markup-like tags in the text (`<b>`) are left out of it',
    examples: ['is the <mark>staging</mark> <mark>server</mark> ready for the <mark>deploy</mark>?']
  })
})
