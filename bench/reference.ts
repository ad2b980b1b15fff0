// The reference server "(a)" of the benchmark: the same task routes as the
// service, as lean as they can be written on this stack. Raw Bun.serve,
// postgres.js with named prepared statements (pool 10, at most 10 statements
// in flight: see REFERENCE_INFLIGHT below), HS256 verified with
// Web Crypto (key imported once, alg/exp/sub checked by hand), no framework,
// no validation library, no request log. It answers only what the benchmark
// sends: GET/POST /api/tasks (GET with limit, offset, list_id and
// sort=position), GET/PATCH /api/tasks/:id, PATCH /api/tasks/:id/complete,
// GET /api/lists, GET /health, with the service's JSON shapes, status codes
// and X-Total-Count / Link / Location / ETag headers.
//
// Usage: DATABASE_URL=... BETTER_AUTH_SECRET=... PORT=8001 bun bench/reference.ts
// Diagnostics (bench/run.ts --reference-env KEY=VALUE), to attribute the gap to the service:
//   REFERENCE_TIMESTAMPS=sql (default: to_char in the query, as the service
//     does) or js (timestamptz parsed to Date by postgres.js, toISOString on output)
//   REFERENCE_PREPARE=false   unnamed statements, parsed and planned every time
//                             (what drizzle's postgres-js driver does without .prepare())
//   REFERENCE_INFLIGHT=0      no bound on statements at the database at once: postgres.js
//                             queues and pipelines them on its 10 connections. The default
//                             (10, the pool size, as the service's guard does) exists because
//                             postgres.js 3.4.9 slows down without end when more queries are
//                             in flight than it has connections: its Queue (src/queue.js)
//                             only compacts when it empties, and remove() scans every slot
//                             ever shifted, so CPU per query grows with the queries served
//   REFERENCE_TOKEN_CACHE=1   keep what a token verified to until its exp, by its text
//                             (what the service does), instead of verifying every request
import { generateKeyBetween } from 'fractional-indexing'
import postgres, { type TransactionSql } from 'postgres'
import {
  COMPLETE_DESCENDANTS_SQL,
  COUNT_SQL,
  CREATE_SQL,
  ENSURE_DEFAULT_SQL,
  FEED_POSITION_SQL,
  FLIP_SQL,
  GET_SQL,
  LIST_IS_MINE_SQL,
  LIST_SQL,
  LISTS_SQL,
  LOCK_USER_SQL,
  MAX_TASKS_PER_USER,
  OWNER_SQL,
  PLACEMENT_SQL,
  SET_COMPLETED_SQL,
  UPDATE_TITLE_SQL,
} from './reference-sql'
import { tokenVerifier } from './reference-token'

const DATABASE_URL = process.env.DATABASE_URL
const SECRET = process.env.BETTER_AUTH_SECRET
const PORT = Number(process.env.PORT ?? 8001)
const PREPARE = process.env.REFERENCE_PREPARE !== 'false'
const POOL_MAX = 10
const INFLIGHT = Number(process.env.REFERENCE_INFLIGHT ?? POOL_MAX) || Infinity
const TOKEN_CACHE = process.env.REFERENCE_TOKEN_CACHE === '1'
if (!DATABASE_URL || !SECRET) {
  process.stderr.write('reference: set DATABASE_URL and BETTER_AUTH_SECRET\n')
  process.exit(1)
}

const MAX_BODY_BYTES = 64 * 1024

const sql = postgres(DATABASE_URL, {
  max: POOL_MAX,
  prepare: PREPARE,
  onnotice: () => {},
  connect_timeout: 5,
  idle_timeout: 20,
  connection: { application_name: 'bench-reference' },
  // Task ids are bigint: read as numbers, as the service does.
  types: { int8: { to: 20, from: [20], parse: Number, serialize: String } },
})

// Where a new task goes after `last`; a create that lost a race adds a random fraction, as the service does.
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
function keyAfter(last: string | null, attempt: number): string {
  const key = generateKeyBetween(last, null)
  if (attempt === 1) return key
  const random = crypto.getRandomValues(new Uint8Array(4))
  return key + [...random].map((byte, i) => DIGITS[i === random.length - 1 ? 1 + (byte % 61) : byte % 62]).join('')
}

const PREPARED = { prepare: PREPARE }

interface Row {
  id: number
  list_id: number
  parent_id: number | null
  position: string
  title: string
  description: string | null
  completed: boolean
  priority: string
  due_date: string | Date | null
  /** With REFERENCE_TIMESTAMPS=js only: a whole day, apart from the moment. */
  due_day?: string | null
  tags: string[]
  recurrence: { rule: string; from: string } | null
  reminders: unknown[]
  created_at: string | Date
  updated_at: string | Date
  version: number
}

// ---------------------------------------------------------------- responses

const JSON_HEADERS = { 'content-type': 'application/json;charset=utf-8' }

function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS })
}

function problem(
  status: number,
  code: string,
  detail: string,
  headers?: Record<string, string>,
  errors?: { field: string; message: string }[],
) {
  return json(errors ? { detail, code, errors } : { detail, code }, status, headers)
}

function invalid(field: string, message: string): Response {
  return problem(422, 'validation_error', `${field}: ${message}`, undefined, [{ field, message }])
}

function unauthorized(code: string, detail: string): Response {
  const challenge =
    code === 'token_missing' ? 'Bearer realm="todo-api"' : `Bearer realm="todo-api", error="invalid_token", error_description="${detail}"`
  return problem(401, code, detail, { 'www-authenticate': challenge })
}

function task(row: Row) {
  return {
    id: row.id,
    list_id: row.list_id,
    parent_id: row.parent_id,
    position: row.position,
    title: row.title,
    description: row.description,
    completed: row.completed,
    priority: row.priority,
    due_date: row.due_date ?? row.due_day ?? null,
    tags: row.tags,
    recurrence: row.recurrence,
    reminders: row.reminders,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

/** A collection's ETag, as the service makes it: the user's feed position and the request. */
function collectionTag(position: number, userId: string, url: string): string {
  const query = url.slice(url.indexOf('/', url.indexOf('//') + 2))
  return `"${position}-${Bun.hash(`${userId} ${query}`).toString(36)}"`
}

function taskResponse(row: Row, status = 200, extra?: Record<string, string>): Response {
  const headers: Record<string, string> = { ...JSON_HEADERS, etag: `"${row.id}.${row.version}"` }
  if (extra) Object.assign(headers, extra)
  return new Response(JSON.stringify(task(row)), { status, headers })
}

// ---------------------------------------------------------------- HS256, by hand

const bearerSubject = await tokenVerifier(SECRET, TOKEN_CACHE)

/** The token's subject, or the 401 to answer with. */
async function authenticate(request: Request): Promise<string | Response> {
  const subject = await bearerSubject(request.headers.get('authorization'))
  return typeof subject === 'string' ? subject : unauthorized(subject.code, subject.detail)
}

// ---------------------------------------------------------------- input

const DECIMAL = /^\d{1,16}$/

function idOf(raw: string, field: string): number | Response {
  const id = Number(raw)
  if (!DECIMAL.test(raw) || id < 1 || id > Number.MAX_SAFE_INTEGER)
    return invalid(field, `must be an id: an integer from 1 to ${Number.MAX_SAFE_INTEGER}`)
  return id
}

/** The JSON object in the body (undefined when there is none), or the error to answer with. */
async function readBody(request: Request): Promise<Record<string, unknown> | undefined | Response> {
  if (Number(request.headers.get('content-length')) > MAX_BODY_BYTES)
    return problem(413, 'payload_too_large', `Request body is larger than ${MAX_BODY_BYTES / 1024} KiB`)
  const text = await request.text()
  if (text === '') return undefined
  const type = request.headers.get('content-type') ?? ''
  if (!/^application\/([a-z0-9.+-]+\+)?json/i.test(type))
    return problem(415, 'unsupported_media_type', `Content-Type ${type ? `"${type.slice(0, 100)}"` : 'missing'}: send application/json`)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return problem(400, 'invalid_json', 'Request body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid('body', 'must be a JSON object')
  return body as Record<string, unknown>
}

/** `{title}` and nothing else (the benchmark sends no other field). */
async function titleOf(request: Request): Promise<string | Response> {
  const body = await readBody(request)
  if (body instanceof Response) return body
  if (body === undefined) return invalid('title', 'is required')
  for (const field in body) if (field !== 'title') return invalid(field, 'is not an accepted field')
  const title = typeof body.title === 'string' ? body.title.trim() : undefined
  if (title === undefined) return invalid('title', 'is required')
  if (title.length < 1 || title.length > 200) return invalid('title', 'must be 1 to 200 characters (after trimming)')
  return title
}

// ---------------------------------------------------------------- handlers

// At most INFLIGHT statements at the database; the rest wait here, first come first served.
let inflight = 0
const queue: (() => void)[] = []
async function acquire(): Promise<void> {
  if (inflight < INFLIGHT) {
    inflight++
    return
  }
  await new Promise<void>((resolve) => queue.push(resolve))
}
function release(): void {
  const next = queue.shift()
  if (next) next()
  else inflight--
}

/** One statement, prepared (unless REFERENCE_PREPARE=false), holding one of the INFLIGHT slots while it runs. */
async function query<T extends object[]>(text: string, params: (string | number | boolean)[]): Promise<T> {
  if (INFLIGHT === Infinity) return sql.unsafe<T>(text, params, PREPARED)
  await acquire()
  try {
    return await sql.unsafe<T>(text, params, PREPARED)
  } finally {
    release()
  }
}

/** A transaction holding one of the INFLIGHT slots (and so one connection) from BEGIN to COMMIT, as the service's guard counts it. */
async function transaction<T>(work: (tx: TransactionSql) => Promise<T>): Promise<T> {
  await acquire()
  try {
    return (await sql.begin(work)) as T
  } finally {
    release()
  }
}

async function missing(userId: string, id: number): Promise<Response> {
  const [row] = await query<{ mine: boolean }[]>(OWNER_SQL, [userId, id])
  if (row && !row.mine) return problem(403, 'forbidden', 'This task belongs to another user')
  return problem(404, 'task_not_found', 'Task not found')
}

async function list(request: Request, userId: string): Promise<Response> {
  let limit = 100
  let offset = 0
  let listId: number | undefined
  const url = request.url
  const question = url.indexOf('?')
  const params = question === -1 ? undefined : new URLSearchParams(url.slice(question + 1))
  const rawLimit = params?.get('limit')
  if (rawLimit != null) {
    limit = Number(rawLimit)
    if (!DECIMAL.test(rawLimit) || limit < 1 || limit > 1000) return invalid('limit', 'must be an integer from 1 to 1000')
  }
  const rawOffset = params?.get('offset')
  if (rawOffset != null) {
    offset = Number(rawOffset)
    if (!DECIMAL.test(rawOffset) || offset > 2147483647) return invalid('offset', 'must be an integer of at least 0')
  }
  const rawList = params?.get('list_id')
  if (rawList != null) {
    const id = idOf(rawList, 'list_id')
    if (id instanceof Response) return id
    listId = id
  }
  const sort = params?.get('sort') ?? 'created_at'
  if ((sort !== 'created_at' && sort !== 'position') || params?.has('order'))
    return problem(400, 'bad_request', 'The reference sorts only by created_at or position, in their default order')
  // Revalidation, as the service: the user's position alone decides a 304.
  const ifNoneMatch = request.headers.get('if-none-match')
  if (ifNoneMatch !== null) {
    const [feed] = await query<{ change_position: number }[]>(FEED_POSITION_SQL, [userId])
    const etag = collectionTag(feed?.change_position ?? 0, userId, url)
    if (ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag))
      return new Response(null, { status: 304, headers: { etag } })
  }
  const filter = listId === undefined ? 'all' : 'list'
  const values = listId === undefined ? [userId, limit, offset] : [userId, limit, offset, listId]
  let rows = await query<(Row & { total: number | null; feed_position: number | null })[]>(LIST_SQL[sort][filter], values)
  let position = rows[0]?.feed_position ?? 0
  if (rows.length === 0) {
    // As the service: the position first, then the rows again, so the tag never runs ahead of the answer.
    const [feed] = await query<{ change_position: number }[]>(FEED_POSITION_SQL, [userId])
    rows = await query(LIST_SQL[sort][filter], values)
    position = rows[0]?.feed_position ?? feed?.change_position ?? 0
  }
  let total = rows[0]?.total ?? rows.length
  if (rows.length === 0 && offset > 0) {
    const [counted] = await query<{ total: number }[]>(COUNT_SQL[filter], listId === undefined ? [userId] : [userId, listId])
    total = counted?.total ?? 0
  }
  // A task found proves the list is the caller's; only an empty answer asks, as the service does.
  if (total === 0 && listId !== undefined) {
    const [mine] = await query(LIST_IS_MINE_SQL, [userId, listId])
    if (!mine) return invalid('list_id', 'is not one of your lists')
  }
  const headers: Record<string, string> = { ...JSON_HEADERS, 'x-total-count': String(total), etag: collectionTag(position, userId, url) }
  const links: string[] = []
  const link = (at: number, rel: string) => {
    const target = new URLSearchParams(params)
    target.set('offset', String(at))
    target.set('limit', String(limit))
    return `</api/tasks?${target}>; rel="${rel}"`
  }
  if (offset + limit < total) links.push(link(offset + limit, 'next'))
  if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'))
  if (links.length) headers.link = links.join(', ')
  return new Response(JSON.stringify(rows.map(task)), { headers })
}

/** Every list of the user, in order; the first call makes the default list, as the service does. */
async function lists(request: Request, userId: string): Promise<Response> {
  let rows = await query<{ feed_position: number | null }[]>(LISTS_SQL, [userId])
  if (rows.length === 0) {
    await ensureDefaultList(userId)
    rows = await query(LISTS_SQL, [userId])
  }
  const position = rows[0]?.feed_position ?? 0
  return json(
    rows.map(({ feed_position: _, ...list }) => list),
    200,
    { etag: collectionTag(position, userId, request.url) },
  )
}

async function create(request: Request, userId: string): Promise<Response> {
  const title = await titleOf(request)
  if (title instanceof Response) return title
  for (let attempt = 1; ; attempt++) {
    let [placement] = await query<{ list_id: number; last: string | null }[]>(PLACEMENT_SQL, [userId])
    if (!placement) {
      await ensureDefaultList(userId)
      ;[placement] = await query<{ list_id: number; last: string | null }[]>(PLACEMENT_SQL, [userId])
    }
    try {
      const [row] = await query<Row[]>(CREATE_SQL, [userId, title, placement!.list_id, keyAfter(placement!.last, attempt)])
      return taskResponse(row!, 201, { location: `/api/tasks/${row!.id}` })
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === '23502')
        return problem(409, 'task_limit_reached', `Task limit reached: a user holds at most ${MAX_TASKS_PER_USER} tasks`)
      if (code !== '23505' || attempt === 20) throw error
    }
  }
}

/** Makes the default list unless it exists; a racer that lost meets the winner's row (23505), as in the service. */
async function ensureDefaultList(userId: string): Promise<void> {
  try {
    await query(ENSURE_DEFAULT_SQL, [userId])
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error
  }
}

async function getOne(userId: string, id: number): Promise<Response> {
  const [row] = await query<Row[]>(GET_SQL, [userId, id])
  return row ? taskResponse(row) : missing(userId, id)
}

async function update(request: Request, userId: string, id: number): Promise<Response> {
  const title = await titleOf(request)
  if (title instanceof Response) return title
  const [row] = await query<Row[]>(UPDATE_TITLE_SQL, [userId, id, title])
  return row ? taskResponse(row) : missing(userId, id)
}

async function complete(request: Request, userId: string, id: number): Promise<Response> {
  const body = await readBody(request)
  if (body instanceof Response) return body
  let rows: Row[]
  if (body === undefined)
    rows = await transaction(async (tx) => {
      await tx.unsafe(LOCK_USER_SQL, [userId], PREPARED)
      const [flipped] = await tx.unsafe<Row[]>(FLIP_SQL, [userId, id], PREPARED)
      if (flipped?.completed) await tx.unsafe(COMPLETE_DESCENDANTS_SQL, [userId, flipped.list_id, id], PREPARED)
      return flipped ? [flipped] : []
    })
  else {
    for (const field in body) if (field !== 'completed') return invalid(field, 'is not an accepted field')
    if (typeof body.completed !== 'boolean') return invalid('completed', 'is required when a body is sent')
    rows = await query<Row[]>(SET_COMPLETED_SQL, [userId, id, body.completed])
  }
  const [row] = rows
  return row ? taskResponse(row) : missing(userId, id)
}

/**
 * /mcp: the one call the benchmark sends, a JSON-RPC tools/call of
 * list_tasks, answered as the service's MCP tool frames it (the tasks and
 * their total as structured content, and the same as JSON text).
 */
async function mcp(request: Request, userId: string): Promise<Response> {
  const message = await readBody(request)
  if (message instanceof Response) return message
  const params = message?.params as { name?: string; arguments?: { limit?: unknown } } | undefined
  const limit = params?.arguments?.limit
  if (message?.method !== 'tools/call' || params?.name !== 'list_tasks' || typeof limit !== 'number')
    return problem(400, 'bad_request', 'The reference answers only tools/call of list_tasks with a limit')
  const rows = await query<(Row & { total: number | null })[]>(LIST_SQL.created_at.all, [userId, limit, 0])
  const answer = { tasks: rows.map(task), total: rows[0]?.total ?? rows.length }
  return json({
    result: { content: [{ type: 'text', text: JSON.stringify(answer) }], structuredContent: answer },
    jsonrpc: '2.0',
    id: message.id,
  })
}

type Handler = (request: Request, userId: string, id: number) => Promise<Response>

/** Authenticates, parses the id when the route has one, maps a failure to 503/500 JSON. */
function route(handler: Handler, withId: boolean) {
  return async (request: Request & { params?: Record<string, string> }): Promise<Response> => {
    const userId = await authenticate(request)
    if (userId instanceof Response) return userId
    let id = 0
    if (withId) {
      const parsed = idOf(request.params?.id ?? '', 'id')
      if (parsed instanceof Response) return parsed
      id = parsed
    }
    try {
      return await handler(request, userId, id)
    } catch (error) {
      const code = (error as { code?: string }).code ?? ''
      if (/^(08|57P0)|^ECONN|^CONNECT_TIMEOUT|^CONNECTION_/.test(code))
        return problem(503, 'database_unavailable', 'The database is unavailable; try again shortly', { 'retry-after': '5' })
      process.stderr.write(`reference: ${code} ${error instanceof Error ? error.message : String(error)}\n`)
      return problem(500, 'internal_error', 'Internal server error')
    }
  }
}

const server = Bun.serve({
  port: PORT,
  hostname: '0.0.0.0',
  routes: {
    '/health': {
      GET: async () => {
        try {
          await sql`select 1`
          return json({ status: 'ok', database: 'ok' })
        } catch {
          return json({ status: 'unavailable', database: 'unavailable' }, 503, { 'retry-after': '5' })
        }
      },
    },
    '/api/tasks': {
      GET: route((request, userId) => list(request, userId), false),
      POST: route((request, userId) => create(request, userId), false),
    },
    '/api/tasks/:id': {
      GET: route((_, userId, id) => getOne(userId, id), true),
      PATCH: route(update, true),
    },
    '/api/tasks/:id/complete': {
      PATCH: route(complete, true),
    },
    '/api/lists': {
      GET: route((request, userId) => lists(request, userId), false),
    },
    '/mcp': {
      POST: route((request, userId) => mcp(request, userId), false),
    },
  },
  fetch(request) {
    return problem(404, 'not_found', `No route for ${request.method} ${new URL(request.url).pathname}`)
  },
})

let stopping = false
async function shutdown() {
  if (stopping) return
  stopping = true
  await server.stop(false)
  await sql.end({ timeout: 5 })
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown())
process.on('SIGINT', () => void shutdown())
