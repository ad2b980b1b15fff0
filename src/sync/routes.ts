import { Elysia } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { readDecimal } from '../http/decimal'
import { errorsFor, RESOURCE_ERRORS } from '../http/errors'
import type { CursorCodec } from './cursor'
import { DEFAULT_SYNC_LIMIT, SyncModel } from './model'
import { readFeed } from './queries'

export interface SyncRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  cursors: CursorCodec
}

/** GET /api/sync: a snapshot, then the changes since a cursor. */
export function syncRoutes({ db, auth, cursors }: SyncRoutesDeps) {
  return new Elysia({ prefix: '/api/sync' })
    .use(auth)
    .guard({ auth: true, detail: { tags: ['sync'] } })
    .onTransform(({ query }) => {
      const values = query as Record<string, unknown>
      if (values.limit !== undefined) values.limit = readDecimal('limit', values.limit, SyncModel.query.properties.limit)
    })
    .get(
      '',
      async ({ userId, query }) => {
        const cursor = query.cursor === undefined ? undefined : cursors.decode(userId, query.cursor)
        const page = await readFeed(db, userId, cursor, query.limit ?? DEFAULT_SYNC_LIMIT)
        return { changes: page.changes, cursor: cursors.encode(userId, page.cursor), has_more: page.hasMore }
      },
      {
        query: SyncModel.query,
        response: { 200: SyncModel.answer, ...RESOURCE_ERRORS, ...errorsFor(410) },
        detail: {
          summary: 'Sync: a snapshot, then the changes since a cursor',
          description:
            'Without cursor: every list and task as upserts. With a cursor from an earlier answer: every list and task created, changed ' +
            'or deleted since, each once in its latest state, oldest first. Page until has_more is false; keep the last cursor. ' +
            '410 cursor_expired: deletions that old are forgotten (30 days): sync again without a cursor. 422: not a cursor of yours.',
        },
      },
    )
}
