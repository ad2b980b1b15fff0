// /docs/json against the app's own route table: every route the app answers
// is documented with its parameters, body and every status it declares, and
// the declarations themselves cover what the route's shape implies (a body
// can be malformed, an id unknown, an If-Match stale, an Idempotency-Key
// still running). Nothing here is a hand-kept copy of the routes.
import { describe, expect, test } from 'bun:test'
import { BODY_ERRORS, ErrorBody, RESOURCE_ERRORS } from '../src/http/errors'
import { DATE_PATTERN, DATE_TIME_PATTERN } from '../src/tasks/due-dates'
import { app, call } from './support'

// The routes left out of the document on purpose: the docs themselves, CORS
// preflights, and /mcp's GET and DELETE (405 after the token, so an anonymous
// MCP client gets the 401 challenge; documented in POST /mcp's description).
const HIDDEN = [
  'OPTIONS /',
  'OPTIONS /*',
  'GET /mcp',
  'DELETE /mcp',
  'GET /docs',
  'GET /docs/json',
  'GET /docs/assets/swagger-ui-bundle.js',
  'GET /docs/assets/swagger-ui.css',
]

// The one error answer that is not {detail, code}: /health says which part is down, in its own shape.
const OWN_ERROR_SHAPE = ['GET /health 503']

// The one route with two successes: a JSON-RPC request answers 200 with its response, a notification 202.
const TWO_SUCCESSES = ['POST /mcp']

type Schema = { type?: string; properties?: Record<string, unknown>; required?: string[] }
type Operation = {
  parameters?: { in: string; name: string; required?: boolean }[]
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> }
  responses: Record<string, { description?: string; headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }>
  security?: Record<string, string[]>[]
}
type Hooks = { params?: Schema; body?: Schema; query?: Schema; headers?: Schema; response?: Schema | Record<string, Schema> }

const document = (await call('GET', '/docs/json')).body
const routes = app.routes.map((route) => ({
  method: route.method,
  path: route.path,
  name: `${route.method} ${route.path}`,
  hooks: route.hooks as Hooks,
}))
const documented = routes.filter((route) => !HIDDEN.includes(route.name))

/** The route's operation in the document (`:id` spelt `{id}` there). */
function operationOf(route: { method: string; path: string }): Operation | undefined {
  return document.paths?.[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()]
}

/** The statuses a route declares: a map of status to schema, or one schema for 200. */
function declaredStatuses(hooks: Hooks): string[] {
  const response = hooks.response
  if (!response) return []
  return 'type' in response || 'properties' in response ? ['200'] : Object.keys(response)
}

const needsToken = (operation: Operation) => (operation.security ?? document.security).some((scheme: object) => 'bearer' in scheme)

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE']
// The contract: every write under /api/ but sign-up and sign-in (the public ones) takes an Idempotency-Key.
const takesIdempotencyKey = (route: { method: string; path: string }, operation: Operation) =>
  WRITES.includes(route.method) && route.path.startsWith('/api/') && needsToken(operation)

/** What a route's shape says it can answer, whatever its declaration says. */
function impliedStatuses(route: (typeof routes)[number], operation: Operation): string[] {
  const statuses: string[] = []
  if (needsToken(operation)) statuses.push('401')
  // Every /api route reads or writes the database.
  if (route.path.startsWith('/api/')) statuses.push('500', '503')
  if (/^\/api\/(:user_id\/)?(tasks|lists)\b/.test(route.path)) statuses.push(...Object.keys(RESOURCE_ERRORS))
  if (route.hooks.body) statuses.push(...Object.keys(BODY_ERRORS), '422')
  if (route.hooks.query || /:\w+/.test(route.path)) statuses.push('422')
  if (route.path.includes(':id')) statuses.push('403', '404')
  if (route.path.includes(':user_id')) statuses.push('403')
  if (route.hooks.headers?.properties && 'if-match' in route.hooks.headers.properties) statuses.push('412')
  // A request with the key still running; a key reused for another request.
  if (takesIdempotencyKey(route, operation)) statuses.push('409', '422')
  return [...new Set(statuses)]
}

/**
 * A schema as plain JSON, without TypeBox's symbols. Elysia adds
 * additionalProperties to a response schema when it first compiles it, so
 * the document says it or not depending on which requests came first.
 */
const asJson = (schema: unknown) => JSON.parse(JSON.stringify(schema), (key, value) => (key === 'additionalProperties' ? undefined : value))

describe('GET /docs/json', () => {
  test('is OpenAPI 3 with the bearer scheme, required by default', () => {
    expect(document.openapi).toMatch(/^3\./)
    expect(document.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(document.security).toContainEqual({ bearer: [] })
  })

  test('documents every route the app answers, but the named hidden ones', () => {
    expect(routes.filter((route) => !operationOf(route)).map((route) => route.name)).toEqual(expect.arrayContaining(HIDDEN))
    expect(routes.filter((route) => !operationOf(route))).toHaveLength(HIDDEN.length)
    // ...and nothing the app does not answer.
    const operations = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    )
    expect(operations.sort()).toEqual(documented.map((route) => route.name).sort())
  })

  test('every task and list route is there under /api/... and under /api/{user_id}/...', () => {
    const resourceRoutes = documented.filter((route) => /^\/api\/(:user_id\/)?(tasks|lists)\b/.test(route.path))
    expect(resourceRoutes.length).toBeGreaterThan(0)
    const names = new Set(resourceRoutes.map((route) => route.name))
    for (const route of resourceRoutes) {
      const twin = route.path.startsWith('/api/:user_id/')
        ? route.path.replace('/api/:user_id/', '/api/')
        : route.path.replace('/api/', '/api/:user_id/')
      expect(names).toContain(`${route.method} ${twin}`)
    }
  })

  test('every security requirement names a scheme the document defines', () => {
    const defined = Object.keys(document.components.securitySchemes)
    const named = documented.flatMap((route) => (operationOf(route)!.security ?? []).flatMap((requirement) => Object.keys(requirement)))
    expect(named.filter((scheme) => !defined.includes(scheme))).toEqual([])
  })

  test('every route needs the bearer token unless it is public, and the document says which', async () => {
    const problems: string[] = []
    for (const route of documented) {
      const documentsToken = needsToken(operationOf(route)!)
      // Without a token: a route that needs one answers 401 before anything else.
      const path = route.path.replace(':user_id', 'someone').replace(':id', '1')
      const anonymous = await call(route.method, path, route.hooks.body ? { body: {} } : {})
      if (documentsToken !== (anonymous.status === 401))
        problems.push(`${route.name}: documented token ${documentsToken}, answered ${anonymous.status}`)
    }
    expect(problems).toEqual([])
  })

  test('every path and query parameter, and every header a route reads', () => {
    const missing: string[] = []
    for (const route of documented) {
      const parameters = operationOf(route)!.parameters ?? []
      const has = (where: string, name: string) => parameters.some((parameter) => parameter.in === where && parameter.name === name)
      for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
        // Documented from the schema the route checks it with, not guessed from the path as a bare string.
        if (!route.hooks.params?.properties?.[name!]) missing.push(`${route.name}: path ${name} has no schema`)
        if (!has('path', name!)) missing.push(`${route.name}: path ${name}`)
        else if (!parameters.find((parameter) => parameter.name === name)!.required)
          missing.push(`${route.name}: path ${name} not required`)
      }
      for (const name of Object.keys(route.hooks.query?.properties ?? {}))
        if (!has('query', name)) missing.push(`${route.name}: query ${name}`)
      for (const name of Object.keys(route.hooks.headers?.properties ?? {}))
        if (!has('header', name)) missing.push(`${route.name}: header ${name}`)
      if (takesIdempotencyKey(route, operationOf(route)!) && !has('header', 'idempotency-key'))
        missing.push(`${route.name}: Idempotency-Key`)
    }
    expect(missing).toEqual([])
  })

  test("every request body, as JSON, with the schema's fields and required ones", () => {
    const wrong: string[] = []
    for (const route of documented) {
      const body = operationOf(route)!.requestBody
      if (!route.hooks.body) {
        if (body) wrong.push(`${route.name}: documents a body it does not read`)
        continue
      }
      const schema = body?.content['application/json']?.schema
      if (!schema) {
        wrong.push(`${route.name}: no JSON body documented`)
        continue
      }
      const expected = asJson(route.hooks.body) as Schema
      if (JSON.stringify(Object.keys(schema.properties ?? {})) !== JSON.stringify(Object.keys(expected.properties ?? {})))
        wrong.push(`${route.name}: body fields ${Object.keys(schema.properties ?? {})}`)
      if (JSON.stringify(schema.required ?? []) !== JSON.stringify(expected.required ?? []))
        wrong.push(`${route.name}: required ${schema.required}`)
    }
    expect(wrong).toEqual([])
  })

  test('every status a route declares, and every status its shape implies, one success among them', () => {
    const wrong: string[] = []
    for (const route of documented) {
      const operation = operationOf(route)!
      const documentedStatuses = Object.keys(operation.responses).sort()
      const declared = declaredStatuses(route.hooks).sort()
      if (JSON.stringify(documentedStatuses) !== JSON.stringify(declared))
        wrong.push(`${route.name}: documents ${documentedStatuses}, declares ${declared}`)
      const missing = impliedStatuses(route, operation).filter((status) => !declared.includes(status))
      if (missing.length) wrong.push(`${route.name}: does not declare ${missing}`)
      if (declared.filter((status) => status.startsWith('2')).length !== (TWO_SUCCESSES.includes(route.name) ? 2 : 1))
        wrong.push(`${route.name}: successes ${declared}`)
    }
    expect(wrong).toEqual([])
  })

  test('every error answer is the error body {detail, code, errors?}, says what it means, and has its headers', () => {
    const errorBody = asJson(ErrorBody)
    const wrong: string[] = []
    for (const route of documented) {
      for (const [status, response] of Object.entries(operationOf(route)!.responses)) {
        if (Number(status) < 400 || OWN_ERROR_SHAPE.includes(`${route.name} ${status}`)) continue
        const { description, ...schema } = asJson(response.content?.['application/json']?.schema ?? {})
        if (!Bun.deepEquals(schema, errorBody)) wrong.push(`${route.name} ${status}: ${JSON.stringify(schema)}`)
        if (!description || response.description !== description) wrong.push(`${route.name} ${status}: no description`)
        if (status === '401' && !response.headers?.['www-authenticate']) wrong.push(`${route.name} 401 without WWW-Authenticate`)
        if (['409', '429', '503'].includes(status) && !response.headers?.['retry-after'])
          wrong.push(`${route.name} ${status} without Retry-After`)
      }
    }
    expect(wrong).toEqual([])
    expect(errorBody).toMatchObject({ required: ['detail', 'code'], properties: { detail: {}, code: {}, errors: { type: 'array' } } })
  })

  test('the MCP endpoint and its resource metadata are there, under their own tag', () => {
    expect(operationOf({ method: 'POST', path: '/mcp' })).toMatchObject({
      tags: ['agents (MCP)'],
      responses: { 200: {}, 202: {}, 401: {} },
    })
    const metadata = operationOf({ method: 'GET', path: '/.well-known/oauth-protected-resource' })!
    expect(metadata.security).toEqual([])
    expect(Object.keys(metadata.responses['200']!.content!['application/json']!.schema.properties!)).toEqual([
      'resource',
      'authorization_servers',
      'bearer_methods_supported',
      'scopes_supported',
    ])
  })

  test('the task list takes the query parameters of the contract', () => {
    const query = operationOf({ method: 'GET', path: '/api/tasks' })!
      .parameters!.filter((parameter) => parameter.in === 'query')
      .map((parameter) => parameter.name)
    expect(query.sort()).toEqual([
      'due',
      'due_after',
      'due_before',
      'limit',
      'list_id',
      'offset',
      'order',
      'parent_id',
      'priority',
      'q',
      'sort',
      'status',
      'tag',
      'tz',
    ])
  })

  test('a due date is documented as a moment or a whole day, sent and answered', () => {
    const create = operationOf({ method: 'POST', path: '/api/tasks' })!
    const sent = create.requestBody!.content['application/json']!.schema.properties!.due_date as { anyOf: object[] }
    expect(sent.anyOf).toEqual([
      expect.objectContaining({ type: 'string', pattern: DATE_TIME_PATTERN }),
      expect.objectContaining({ type: 'string', pattern: DATE_PATTERN }),
      { type: 'null' },
    ])
    const answered = create.responses['201']!.content!['application/json']!.schema.properties!.due_date as { anyOf: object[] }
    expect(answered.anyOf).toEqual([{ type: 'string', format: 'date-time' }, { type: 'string', format: 'date' }, { type: 'null' }])
  })

  test('settings: GET and PATCH /api/settings with time_zone, If-Match on the write', () => {
    const read = operationOf({ method: 'GET', path: '/api/settings' })!
    expect(read.responses['200']!.content!['application/json']!.schema).toMatchObject({ required: ['time_zone'] })
    const write = operationOf({ method: 'PATCH', path: '/api/settings' })!
    expect(Object.keys(write.requestBody!.content['application/json']!.schema.properties!)).toEqual(['time_zone'])
    expect(write.parameters!.map((parameter) => parameter.name)).toEqual(expect.arrayContaining(['if-match', 'idempotency-key']))
  })
})
