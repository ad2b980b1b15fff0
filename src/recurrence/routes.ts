import { withHeaders } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { RESOURCE_ERRORS } from '../http/errors'
import { OWNER_PARAMS, PLAIN_PARAMS, type PrefixParams, readIdParam } from '../http/ids'
import { PageHeaders, PagingQuery, pageOf, readPaging, setPageHeaders } from '../http/paging'
import { RecurrenceModel, readOccurrencesLimit } from './model'
import { listCompletions, listOccurrences } from './queries'

export interface RecurrenceRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
}

/**
 * GET /api/tasks/{id}/completions and /occurrences, and the same under the
 * `/api/:user_id/tasks` alias, beside the task routes.
 */
export function recurrenceRoutes(deps: RecurrenceRoutesDeps) {
  return new Elysia()
    .use(recurrenceRoutesAt({ ...deps, ...PLAIN_PARAMS, prefix: '/api/tasks', tag: 'tasks' }))
    .use(recurrenceRoutesAt({ ...deps, ...OWNER_PARAMS, prefix: '/api/:user_id/tasks', tag: 'tasks (user id in path)' }))
}

function recurrenceRoutesAt<const Prefix extends string>({
  db,
  auth,
  prefix,
  params,
  tag,
}: RecurrenceRoutesDeps & PrefixParams & { prefix: Prefix; tag: string }) {
  return (
    new Elysia({ prefix })
      .use(auth)
      .guard({ auth: true, detail: { tags: [tag] } })
      // After the guard, so the token is checked first: an anonymous caller gets 401, not 422.
      .onTransform(({ params, query, path }) => {
        readIdParam(params)
        if (path.endsWith('/completions')) readPaging(query)
        else readOccurrencesLimit(query)
      })
      .get(
        '/:id/completions',
        async ({ userId, params, query, set, request }) => {
          const page = pageOf(query)
          const { completions, total } = await listCompletions(db, userId, params.id, page)
          setPageHeaders(set, request.url, page, total)
          return completions
        },
        {
          params,
          query: t.Object(PagingQuery, { additionalProperties: true }),
          response: { 200: withHeaders(RecurrenceModel.completions, PageHeaders), ...RESOURCE_ERRORS },
          detail: {
            summary: "A recurring task's completions",
            description:
              'Each time the task was completed: when, and the due date it had then; newest first, limit (default 100, up to 1000) from offset, ' +
              'with X-Total-Count and Link. A task that does not recur has none.',
          },
        },
      )
      .get(
        '/:id/occurrences',
        async ({ userId, params, query }) => ({ occurrences: await listOccurrences(db, userId, params.id, query.limit ?? 10) }),
        {
          params,
          query: RecurrenceModel.occurrencesQuery,
          response: { 200: RecurrenceModel.occurrences, ...RESOURCE_ERRORS },
          detail: {
            summary: "A recurring task's next due dates",
            description:
              'Up to limit (1 to 100, default 10) due dates after the current one, in order: the schedule (from: due), or, from: completion, ' +
              'the dates the task takes if each occurrence is completed on its due date. Fewer when COUNT or UNTIL ends the series; an empty list for a task that does not recur.',
          },
        },
      )
  )
}
