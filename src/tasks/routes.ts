import { withHeaders } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { ValidationFailed } from '../errors'
import { readDecimal } from '../http/decimal'
import { BODY_ERRORS, IDEMPOTENT_WRITE_ERRORS, RESOURCE_ERRORS } from '../http/errors'
import { IdParams, OWNER_PARAMS, PLAIN_PARAMS, type PrefixParams, readIdParam } from '../http/ids'
import { parseJsonBody } from '../http/json-body'
import type { Logger } from '../http/logger'
import { PageHeaders, pageOf, readPaging, setPageHeaders } from '../http/paging'
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
import { type TaskRow, toTask } from './columns'
import { createTask } from './create'
import { dueTagContext } from './due-views'
import { taskColumns } from './input'
import { canonicalListQuery, TaskModel, trimTaskInput } from './model'
import { moveTask } from './moves'
import { deleteTask, getTask, listTagState, listTasks, listTimeOf, toggleTask, updateTask } from './queries'

type UpdateInput = typeof TaskModel.update.static

/** The task as answered, its version carried in the strong ETag header instead. */
function answerTask(row: TaskRow, set: { headers: Record<string, unknown> }) {
  set.headers.etag = etagOf(row.id, row.version)
  return toTask(row)
}

// The list's id filters, read as numbers before validation; parent_id may also be `none`.
function readIdFilters(query: unknown): void {
  const filters = query as Record<string, unknown> | undefined
  if (filters?.list_id !== undefined) filters.list_id = readDecimal('list_id', filters.list_id, IdParams.id)
  if (filters?.parent_id !== undefined && filters.parent_id !== 'none')
    filters.parent_id = readDecimal('parent_id', filters.parent_id, { ...IdParams.id, error: `must be none or ${IdParams.id.error}` })
}

// Routes with a body say `parse: 'json'` only to declare the media type in the
// OpenAPI document: parseJsonBody (registered after the auth guard) does the work.

export interface TaskRoutesDeps {
  db: Database
  auth: ReturnType<typeof authPlugin>
  logger: Logger
  /** The clock the due filters count days by, and completions of recurring tasks are made at. */
  now: () => Date
}

/**
 * The task routes, under `/api/tasks` and under the `/api/:user_id/tasks`
 * alias (whose user id the auth plugin checks against the token).
 */
export function taskRoutes(deps: TaskRoutesDeps) {
  return new Elysia()
    .use(taskRoutesAt({ ...deps, ...PLAIN_PARAMS, prefix: '/api/tasks', tag: 'tasks' }))
    .use(taskRoutesAt({ ...deps, ...OWNER_PARAMS, prefix: '/api/:user_id/tasks', tag: 'tasks (user id in path)' }))
}

function taskRoutesAt<const Prefix extends string>({
  db,
  auth,
  logger,
  now,
  prefix,
  params: paramsSchema,
  collectionParams,
  tag,
}: TaskRoutesDeps & PrefixParams & { prefix: Prefix; tag: string }) {
  // PUT and PATCH are the same partial update (the contract gives both one body).
  const updateHooks = {
    params: paramsSchema,
    headers: PreconditionHeaders,
    parse: 'json',
    body: TaskModel.update,
    response: { 200: withHeaders(TaskModel.task, ETagHeader), ...RESOURCE_ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
  } as const
  async function update(
    userId: string,
    id: number,
    body: UpdateInput,
    ifMatch: string | undefined,
    set: { headers: Record<string, unknown> },
  ) {
    const changes = taskColumns(body)
    const row = await updateTask(db, userId, id, changes, preconditionOf(ifMatch, id), now())
    return answerTask(row, set)
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
      .onTransform(({ params, query, body }) => {
        readIdParam(params)
        readPaging(query)
        readIdFilters(query)
        trimTaskInput(body)
        canonicalListQuery(query)
      })
      .get(
        '',
        async ({ userId, query, set, request }) => {
          const time = await listTimeOf(db, userId, query, now())
          const tagOf = (state: { position: number; lastPassed?: string | null }) =>
            collectionTag(state.position, userId, request.url, dueTagContext(query, time.zone, time.now, state.lastPassed))
          if (await revalidatedCollection(request, set, async () => tagOf(await listTagState(db, userId, query, time.now)))) return
          const page = pageOf(query)
          const { tasks, total, ...state } = await listTasks(db, userId, query, page, time)
          set.headers.etag = tagOf(state)
          setPageHeaders(set, request.url, page, total)
          return tasks
        },
        {
          params: collectionParams,
          query: TaskModel.listQuery,
          headers: NotModifiedHeaders,
          response: {
            200: withHeaders(TaskModel.taskList, { ...PageHeaders, ...ETagHeader }),
            ...NOT_MODIFIED,
            ...RESOURCE_ERRORS,
          },
          detail: {
            summary: 'List tasks',
            description:
              'Headers: X-Total-Count (matches before paging), Link (next/prev), ETag (changes with any change of your lists and tasks, ' +
              'and with the day, your time zone and the passing of due moments where the answer depends on them). ' +
              'If-None-Match with the current ETag: 304, without reading the tasks. ' +
              'due: overdue (a moment before now, a whole day before today), today, tomorrow, next_7_days (today and the six days after), no_date; ' +
              'days are those of your time zone (GET /api/settings) unless tz names another.',
          },
        },
      )
      .post(
        '',
        async ({ userId, body, set, path }) => {
          const row = await createTask(db, userId, taskColumns(body), now())
          set.status = 201
          set.headers.location = `${path.endsWith('/') ? path.slice(0, -1) : path}/${row.id}`
          return answerTask(row, set)
        },
        {
          params: collectionParams,
          headers: WriteHeaders,
          parse: 'json',
          body: TaskModel.create,
          response: {
            201: withHeaders(TaskModel.task, { ...ETagHeader, location: t.String({ description: 'The new task' }) }),
            ...RESOURCE_ERRORS,
            ...BODY_ERRORS,
            ...IDEMPOTENT_WRITE_ERRORS,
          },
          detail: { summary: 'Create a task', description: 'Answers with Location and ETag.' },
        },
      )
      .get(
        '/:id',
        async ({ userId, params, set, request }) => {
          const task = answerTask(await getTask(db, userId, params.id), set)
          return answeredNotModified(request, set) ? undefined : task
        },
        {
          params: paramsSchema,
          headers: NotModifiedHeaders,
          response: { 200: withHeaders(TaskModel.task, ETagHeader), ...NOT_MODIFIED, ...RESOURCE_ERRORS },
          detail: { summary: 'Get a task', description: 'If-None-Match with the current ETag: 304.' },
        },
      )
      .put('/:id', ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers['if-match'], set), {
        ...updateHooks,
        detail: { summary: 'Update a task (fields not sent are kept)', description: 'Honours If-Match (412 when the task changed).' },
      })
      .patch('/:id', ({ userId, params, body, headers, set }) => update(userId, params.id, body, headers['if-match'], set), {
        ...updateHooks,
        detail: { summary: 'Update some fields of a task', description: 'Honours If-Match (412 when the task changed).' },
      })
      .delete(
        '/:id',
        async ({ userId, params, headers, set }) => {
          await deleteTask(db, userId, params.id, preconditionOf(headers['if-match'], params.id))
          set.status = 204
        },
        {
          params: paramsSchema,
          headers: PreconditionHeaders,
          response: { 204: t.Void(), ...RESOURCE_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: { summary: 'Delete a task', description: 'Honours If-Match.' },
        },
      )
      .post(
        '/:id/move',
        async ({ userId, params, body, headers, set }) => {
          const row = await moveTask(db, userId, params.id, body, preconditionOf(headers['if-match'], params.id))
          return answerTask(row, set)
        },
        {
          params: paramsSchema,
          headers: PreconditionHeaders,
          parse: 'json',
          body: TaskModel.move,
          response: { 200: withHeaders(TaskModel.task, ETagHeader), ...RESOURCE_ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: {
            summary: 'Move a task: to another list or parent, or among its siblings',
            description:
              'Its subtasks move with it. parent_id null: top level; after_id/before_id: a sibling at the destination (with both, right after after_id); without either, last. ' +
              '422 for an id that is not yours, a move under itself or its own subtask, more than 3 ancestors, or a subtask alone to another list. Honours If-Match.',
          },
        },
      )
      .patch(
        '/:id/complete',
        async ({ userId, params, body, headers, set }) => {
          const precondition = preconditionOf(headers['if-match'], params.id)
          // Elysia lets {} through an optional object schema; it is neither a toggle nor a set.
          if (body && typeof body.completed !== 'boolean')
            throw new ValidationFailed([{ field: 'completed', message: 'is required when a body is sent' }])
          const row = body
            ? await updateTask(db, userId, params.id, { completed: body.completed }, precondition, now())
            : await toggleTask(db, userId, params.id, precondition, now())
          return answerTask(row, set)
        },
        {
          params: paramsSchema,
          headers: PreconditionHeaders,
          parse: 'json',
          body: TaskModel.complete,
          response: { 200: withHeaders(TaskModel.task, ETagHeader), ...RESOURCE_ERRORS, ...BODY_ERRORS, ...IDEMPOTENT_WRITE_ERRORS },
          detail: {
            summary: 'Toggle completion, or set it with {completed}',
            description:
              'Completing a recurring task records a completion and moves it to its next due date, reopened with its subtasks (completed for good when its series has ended). Honours If-Match.',
          },
        },
      )
  )
}
