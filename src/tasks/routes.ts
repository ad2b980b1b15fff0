import { withHeaders } from '@elysiajs/openapi'
import { Elysia, t } from 'elysia'
import type { authPlugin } from '../auth/plugin'
import type { Database } from '../db/client'
import { readDecimal } from '../http/decimal'
import { errorsFor, ValidationFailed } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import { TaskModel } from './model'
import { createTask, deleteTask, getTask, listTasks, type Precondition, type TaskRow, toggleTask, toTask, updateTask } from './queries'

type UpdateInput = typeof TaskModel.update.static

const MAX_INT4 = 2_147_483_647

/** The task as answered, its version carried in the strong ETag header instead. */
function answerTask(row: TaskRow, set: { headers: Record<string, unknown> }) {
  set.headers.etag = `"${row.id}.${row.version}"`
  return toTask(row)
}

/** If-Match → the versions of this task it accepts; weak tags never match (strong comparison). */
function preconditionOf(ifMatch: string | undefined, id: number): Precondition | undefined {
  if (ifMatch === undefined) return undefined
  if (ifMatch.trim() === '*') return { any: true }
  const versions: number[] = []
  // A version past int4 was never issued: it cannot match (412), and must not reach SQL.
  for (const match of ifMatch.matchAll(/(W\/)?"(\d+)\.(\d+)"/g))
    if (!match[1] && Number(match[2]) === id && Number(match[3]) <= MAX_INT4) versions.push(Number(match[3]))
  return { versions }
}

// Calendar-checked and normalised to UTC so PostgreSQL never sees a date it
// would refuse (Feb 30, hour 24) or a year it cannot store.
function parseDueDate(value: string | null | undefined): string | null | undefined {
  if (value === null || value === undefined) return value
  const [, y, mo, d, h, mi, s] = value.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/)!.map(Number)
  const parsed = new Date(value)
  const sameDay = new Date(Date.UTC(y!, mo! - 1, d!)).getUTCDate() === d
  if (Number.isNaN(parsed.getTime()) || !sameDay || h! > 23 || mi! > 59 || (s ?? 0) > 59)
    throw new ValidationFailed([{ field: 'due_date', message: 'is not a real date and time' }])
  // The offset can carry 9999-12-31 into year 10000, or 0001-01-01 back into year 0.
  const year = parsed.getUTCFullYear()
  if (year < 1 || year > 9999) throw new ValidationFailed([{ field: 'due_date', message: 'must fall in the years 0001 to 9999 (UTC)' }])
  return parsed.toISOString()
}

function linkHeader(requestUrl: string, offset: number, limit: number, total: number): string | undefined {
  // Most lists fit in one page: the URL is parsed only when there is a link to write.
  if (offset + limit >= total && offset === 0) return undefined
  const url = new URL(requestUrl)
  const link = (at: number, rel: string) => {
    const target = new URL(url)
    target.searchParams.set('offset', String(at))
    target.searchParams.set('limit', String(limit))
    return `<${target.pathname}${target.search}>; rel="${rel}"`
  }
  const links = []
  if (offset + limit < total) links.push(link(offset + limit, 'next'))
  if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'))
  return links.length ? links.join(', ') : undefined
}

// Routes with a body say `parse: 'json'` only to declare the media type in the
// OpenAPI document: parseJsonBody (registered after the auth guard) runs first and does the work.
const taskHeaders = t.Object({ 'if-match': t.Optional(t.String()) }, { additionalProperties: true })
// Every task route can answer these; routes with a body add 400, 413, 415.
const errors = errorsFor(401, 403, 404, 412, 422, 500, 503)
const bodyErrors = errorsFor(400, 413, 415)
const etag = { etag: t.String({ description: 'Strong ETag; send it back in If-Match' }) }

/**
 * The task routes under one prefix: `/api/tasks`, or the `/api/:user_id/tasks`
 * alias (whose user id the auth plugin checks against the token).
 */
export function taskRoutes<const Prefix extends string>(
  prefix: Prefix,
  db: Database,
  auth: ReturnType<typeof authPlugin>,
  paramsSchema: typeof TaskModel.idParams | typeof TaskModel.ownerIdParams,
  tag: string,
) {
  // PUT and PATCH are the same partial update (the contract gives both one body).
  const updateHooks = {
    params: paramsSchema,
    headers: taskHeaders,
    parse: 'json',
    body: TaskModel.update,
    response: { 200: withHeaders(TaskModel.task, etag), ...errors, ...bodyErrors },
  } as const
  async function update(
    userId: string,
    id: number,
    body: UpdateInput,
    ifMatch: string | undefined,
    set: { headers: Record<string, unknown> },
  ) {
    const row = await updateTask(db, userId, id, { ...body, due_date: parseDueDate(body.due_date) }, preconditionOf(ifMatch, id))
    return answerTask(row, set)
  }

  return (
    new Elysia({ prefix })
      .use(auth)
      .guard({ auth: true, detail: { tags: [tag] } })
      // After the guard, so the token is checked before the body is read.
      .onParse(parseJsonBody)
      // After the guard, so the token is checked first: an anonymous caller gets 401, not 422.
      .onTransform(({ params, query, body }) => {
        const path = params as Record<string, unknown> | undefined
        if (path?.id !== undefined) path.id = readDecimal('id', path.id, TaskModel.id)
        const paging = query as Record<string, unknown> | undefined
        if (paging?.limit !== undefined) paging.limit = readDecimal('limit', paging.limit, TaskModel.listQuery.properties.limit)
        if (paging?.offset !== undefined) paging.offset = readDecimal('offset', paging.offset, TaskModel.listQuery.properties.offset)
        const input = body as { title?: unknown } | undefined
        if (input && typeof input.title === 'string') input.title = input.title.trim()
      })
      .get(
        '',
        async ({ userId, query, set, request }) => {
          const { tasks, total } = await listTasks(db, userId, query)
          set.headers['x-total-count'] = String(total)
          const link = linkHeader(request.url, query.offset ?? 0, query.limit ?? 100, total)
          if (link) set.headers.link = link
          return tasks
        },
        {
          query: TaskModel.listQuery,
          response: {
            200: withHeaders(TaskModel.taskList, {
              'x-total-count': t.String({ description: 'Matching tasks before paging' }),
              link: t.String({ description: 'RFC 8288 next/prev links, when they exist' }),
            }),
            ...errors,
          },
          detail: { summary: 'List tasks', description: 'Headers: X-Total-Count (matches before paging), Link (next/prev).' },
        },
      )
      .post(
        '',
        async ({ userId, body, set, path }) => {
          const row = await createTask(db, userId, { ...body, due_date: parseDueDate(body.due_date) })
          set.status = 201
          set.headers.location = `${path.endsWith('/') ? path.slice(0, -1) : path}/${row.id}`
          return answerTask(row, set)
        },
        {
          parse: 'json',
          body: TaskModel.create,
          response: {
            201: withHeaders(TaskModel.task, { ...etag, location: t.String({ description: 'The new task' }) }),
            ...errors,
            ...bodyErrors,
            ...errorsFor(409),
          },
          detail: { summary: 'Create a task', description: 'Answers with Location and ETag.' },
        },
      )
      .get(
        '/:id',
        async ({ userId, params, set }) => {
          const row = await getTask(db, userId, params.id)
          return answerTask(row, set)
        },
        { params: paramsSchema, response: { 200: withHeaders(TaskModel.task, etag), ...errors }, detail: { summary: 'Get a task' } },
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
          headers: taskHeaders,
          response: { 204: t.Void(), ...errors },
          detail: { summary: 'Delete a task', description: 'Honours If-Match.' },
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
            ? await updateTask(db, userId, params.id, { completed: body.completed }, precondition)
            : await toggleTask(db, userId, params.id, precondition)
          return answerTask(row, set)
        },
        {
          params: paramsSchema,
          headers: taskHeaders,
          parse: 'json',
          body: TaskModel.complete,
          response: { 200: withHeaders(TaskModel.task, etag), ...errors, ...bodyErrors },
          detail: { summary: 'Toggle completion, or set it with {completed}', description: 'Honours If-Match.' },
        },
      )
  )
}
