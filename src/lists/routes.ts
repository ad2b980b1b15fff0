import { withHeaders } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { BODY_ERRORS, IDEMPOTENT_WRITE_ERRORS, RESOURCE_ERRORS } from '../http/errors'
import { OWNER_PARAMS, PLAIN_PARAMS, type PrefixParams, readIdParam } from '../http/ids'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import {
  answeredNotModified,
  collectionTag,
  ETagHeader,
  etagOf,
  NOT_MODIFIED,
  NotModifiedHeaders,
  PreconditionHeaders,
  preconditionOf,
  revalidatedCollection,
  WriteHeaders,
} from '../http/preconditions'
import { idempotency } from '../idempotency/plugin'
import { feedPosition } from '../sync/feed'
import { createList, deleteList, moveList } from './arrange'
import { ListModel, trimListInput } from './model'
import { getList, type ListRow, listLists, listState, toList, updateList } from './queries'

type UpdateInput = typeof ListModel.update.static

/** The list as answered, its state (version and open count) carried in the strong ETag header. */
function answerList(row: ListRow, set: { headers: Record<string, unknown> }) {
  set.headers.etag = etagOf(row.id, ...listState(row))
  return toList(row)
}

// Routes with a body say `parse: 'json'` only to declare the media type in the
// OpenAPI document: parseJsonBody (registered after the auth guard) does the work.

export interface ListRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  logger: Logger
}

/**
 * The list routes, under `/api/lists` and under the `/api/:user_id/lists`
 * alias (whose user id the auth plugin checks against the token).
 */
export function listRoutes(deps: ListRoutesDeps) {
  return new Elysia()
    .use(listRoutesAt({ ...deps, ...PLAIN_PARAMS, prefix: '/api/lists', tag: 'lists' }))
    .use(listRoutesAt({ ...deps, ...OWNER_PARAMS, prefix: '/api/:user_id/lists', tag: 'lists (user id in path)' }))
}

function listRoutesAt<const Prefix extends string>({
  db,
  auth,
  logger,
  prefix,
  params: paramsSchema,
  collectionParams,
  tag,
}: ListRoutesDeps & PrefixParams & { prefix: Prefix; tag: string }) {
  // PUT and PATCH are the same partial update (the contract gives both one body).
  const updateHooks = {
    params: paramsSchema,
    headers: PreconditionHeaders,
    parse: 'json',
    body: ListModel.update,
    response: { 200: withHeaders(ListModel.list, ETagHeader), ...RESOURCE_ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
  } as const
  async function update(
    userId: string,
    id: number,
    body: UpdateInput,
    ifMatch: string | undefined,
    set: { headers: Record<string, unknown> },
  ) {
    return answerList(await updateList(db, userId, id, body, preconditionOf(ifMatch, id)), set)
  }

  return (
    new Elysia({ prefix })
      .use(auth)
      .guard({ auth: true, detail: { tags: [tag] } })
      // After the guard: a key is the caller's, so the token comes first.
      .use(idempotency(db, logger))
      // After the guard, so the token is checked before the body is read.
      .onParse(parseJsonBody)
      // After the guard, so the token is checked first: an anonymous caller gets 401, not 422.
      .onTransform(({ params, body }) => {
        readIdParam(params)
        trimListInput(body)
      })
      .get(
        '',
        async ({ userId, request, set }) => {
          if (await revalidatedCollection(request, set, async () => collectionTag(await feedPosition(db, userId), userId, request.url)))
            return
          const { lists, position } = await listLists(db, userId)
          set.headers.etag = collectionTag(position, userId, request.url)
          return lists
        },
        {
          params: collectionParams,
          headers: NotModifiedHeaders,
          response: { 200: withHeaders(ListModel.lists, ETagHeader), ...NOT_MODIFIED, ...RESOURCE_ERRORS },
          detail: {
            summary: 'List lists',
            description:
              'Every list of the caller, in the order arranged (position, then id). The first call makes the default list, "Inbox". ' +
              'ETag: changes with any change of your lists and tasks; If-None-Match with it: 304, without reading the lists.',
          },
        },
      )
      .post(
        '',
        async ({ userId, body, set, path }) => {
          const row = await createList(db, userId, body)
          set.status = 201
          set.headers.location = `${path.endsWith('/') ? path.slice(0, -1) : path}/${row.id}`
          return answerList(row, set)
        },
        {
          params: collectionParams,
          headers: WriteHeaders,
          parse: 'json',
          body: ListModel.create,
          response: {
            201: withHeaders(ListModel.list, { ...ETagHeader, location: t.String({ description: 'The new list' }) }),
            ...RESOURCE_ERRORS,
            ...BODY_ERRORS,
            ...IDEMPOTENT_WRITE_ERRORS,
          },
          detail: {
            summary: 'Create a list',
            description: 'Placed last. Answers with Location and ETag; 409 list_limit past 1,000 lists.',
          },
        },
      )
      .get(
        '/:id',
        async ({ userId, params, set, request }) => {
          const list = answerList(await getList(db, userId, params.id), set)
          return answeredNotModified(request, set) ? undefined : list
        },
        {
          params: paramsSchema,
          headers: NotModifiedHeaders,
          response: { 200: withHeaders(ListModel.list, ETagHeader), ...NOT_MODIFIED, ...RESOURCE_ERRORS },
          detail: { summary: 'Get a list', description: 'If-None-Match with the current ETag: 304.' },
        },
      )
      .put('/:id', ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers['if-match'], set), {
        ...updateHooks,
        detail: { summary: 'Update a list (fields not sent are kept)', description: 'Honours If-Match (412 when the list changed).' },
      })
      .patch('/:id', ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers['if-match'], set), {
        ...updateHooks,
        detail: { summary: 'Update some fields of a list', description: 'Honours If-Match (412 when the list changed).' },
      })
      .delete(
        '/:id',
        async ({ userId, params, headers, set }) => {
          await deleteList(db, userId, params.id, preconditionOf(headers['if-match'], params.id))
          set.status = 204
        },
        {
          params: paramsSchema,
          headers: PreconditionHeaders,
          response: { 204: t.Void(), ...RESOURCE_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: {
            summary: 'Delete a list and its tasks',
            description: 'Its tasks go with it, in one transaction. Honours If-Match; 409 default_list for the default list.',
          },
        },
      )
      .post(
        '/:id/move',
        async ({ userId, params, body, headers, set }) =>
          answerList(await moveList(db, userId, params.id, body, preconditionOf(headers['if-match'], params.id)), set),
        {
          params: paramsSchema,
          headers: PreconditionHeaders,
          parse: 'json',
          body: ListModel.move,
          response: { 200: withHeaders(ListModel.list, ETagHeader), ...RESOURCE_ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: {
            summary: 'Move a list after or before another',
            description:
              'Send {after_id} or {before_id}: another list of the caller (else 422 naming the field). Answers the list with its new position. Honours If-Match; 409 default_list for the default list, which stays where it is.',
          },
        },
      )
  )
}
