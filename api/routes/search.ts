import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { searchMessages, searchScope } from '../../core/search.js'
import { toPage } from '../cursor.js'
import { HttpProblem, notFound } from '../errors.js'
import { bearer, PageSchema, problems } from '../schemas/common.js'
import { toMessageView } from '../schemas/messages.js'
import { SearchHitSchema, SearchQuerySchema } from '../schemas/search.js'

const searchRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { db, cursors, laggingReads } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/search', {
    schema: {
      tags: ['messages'],
      operationId: 'searchMessages',
      summary: 'Find messages in my rooms by their words',
      description: [
        'Full-text search over the rooms I am in now, as their history shows them: an edited message is found by its',
        'new text only, a deleted one never, and a room I left or was never in not at all. Newest first unless',
        '`order=rank`; `roomId` and `senderId` narrow it; `limit` ≤ 100 per page, `nextCursor` for the next. Each hit is',
        'the message, its `rank`, and a `highlight` (HTML, matches in `<mark>`). A `q` with nothing to look up (only',
        'operators such as `-` or `or`, only excluded words) is 400 `NO_SEARCH_TERMS`. Where a read replica serves',
        'search, a message stored or changed a moment ago may be found as it was for as long as the replica is behind.'
      ].join(' '),
      security: bearer,
      querystring: SearchQuerySchema,
      response: { 200: PageSchema(SearchHitSchema), ...problems(404, 503) }
    }
  }, async (request) => {
    const { q, order, roomId, senderId, cursor, limit } = request.query
    const after = cursor === undefined ? undefined : cursors.openSearch(cursor, order)
    const scope = await searchScope(db, { userId: request.userId, q, roomId })
    if (scope.kind === 'no-words') {
      throw new HttpProblem(400, 'q has no word to look up: give at least one word that is not excluded with `-` (nor, with a language\'s configuration, too common to index).', 'NO_SEARCH_TERMS')
    }
    if (scope.kind === 'not-a-member') throw notFound.room(roomId ?? 0)
    const outcome = await laggingReads.run(async (source) => await searchMessages(source, { roomIds: scope.roomIds, q, order, senderId, limit, after }))
    return toPage(outcome, (hit) => ({ ...toMessageView(hit.message), rank: hit.rank, highlight: hit.highlight }),
      (last) => cursors.sealSearch(outcome.next(last)))
  })
}

export default searchRoutes
