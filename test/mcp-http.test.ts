// /mcp as HTTP: the same bearer auth as the REST routes, the 401 challenge
// naming the resource metadata (RFC 9728), PUBLIC_URL, CORS for a browser
// client; writes reaching the change feed and live streams; idempotency_key.
import { describe, expect, test } from 'bun:test'
import {
  discoverOAuthServerInfo,
  extractWWWAuthenticateParams,
  type OAuthClientProvider,
  selectResourceURL,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { createApp, localLive } from '../src/app'
import type { Notifier } from '../src/events/notifier'
import { answerOf, errorOf, mcpClient } from './mcp-client'
import { sync } from './replica'
import { readEvents, untilTask, waitForComment } from './sse'
import {
  app,
  call,
  database,
  expectUnauthenticated,
  logger,
  nowSeconds,
  signedInUser,
  signJwt,
  testConfig,
  tokenFor,
  userId,
} from './support'

const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' }
const LIST_TOOLS = { jsonrpc: '2.0', id: 1, method: 'tools/list' }

describe('authentication and discovery', () => {
  test('no token, or a bad one: 401 before the body is read, its challenge naming the resource metadata', async () => {
    const expired = await signJwt({ sub: userId(), iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })
    for (const [headers, code] of [
      [{}, 'token_missing'],
      [{ authorization: 'Bearer not-a-token' }, 'token_invalid'],
      [{ authorization: `Bearer ${expired}` }, 'token_expired'],
      [{ authorization: `Basic ${btoa('a:b')}` }, 'token_invalid'],
    ] as const) {
      // A body that would be refused if it were read: the token comes first.
      const reply = await call('POST', '/mcp', { raw: '{"not json', headers: { ...MCP_HEADERS, ...headers } })
      expectUnauthenticated(reply, code)
      expect(reply.headers.get('www-authenticate')).toContain('resource_metadata="http://localhost/.well-known/oauth-protected-resource"')
    }
    // The REST routes' challenge names no MCP resource.
    const rest = await call('GET', '/api/tasks')
    expectUnauthenticated(rest, 'token_missing')
    expect(rest.headers.get('www-authenticate')).toBe('Bearer realm="todo-api"')
  })

  test('GET /.well-known/oauth-protected-resource names /mcp and Better Auth, without a token', async () => {
    const configured = await createApp({
      database,
      config: testConfig({ BETTER_AUTH_URL: 'https://app.example.com/', PUBLIC_URL: 'https://api.example.com/' }),
      logger,
    })
    const reply = await call('GET', '/.well-known/oauth-protected-resource', { on: configured })
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual({
      resource: 'https://api.example.com/mcp',
      authorization_servers: ['https://app.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: [],
    })
    const challenged = await call('POST', '/mcp', { body: LIST_TOOLS, headers: MCP_HEADERS, on: configured })
    expect(challenged.headers.get('www-authenticate')).toContain(
      'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"',
    )
    // Without PUBLIC_URL, the origin the request was sent to; without BETTER_AUTH_URL, no authorization server.
    const plain = await call('GET', '/.well-known/oauth-protected-resource')
    expect(plain.body).toMatchObject({ resource: 'http://localhost/mcp', authorization_servers: [] })
  })

  test("the SDK's own OAuth discovery reads the challenge, finds the metadata and Better Auth, and accepts the resource", async () => {
    const configured = await createApp({ database, config: testConfig({ BETTER_AUTH_URL: 'https://app.example.com' }), logger })
    const fetchFn = (url: string | URL, init?: RequestInit) => configured.handle(new Request(String(url), init))
    const challenged = await fetchFn('http://localhost/mcp', { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(LIST_TOOLS) })
    const { resourceMetadataUrl } = extractWWWAuthenticateParams(challenged)
    expect(String(resourceMetadataUrl)).toBe('http://localhost/.well-known/oauth-protected-resource')
    const found = await discoverOAuthServerInfo('http://localhost/mcp', { resourceMetadataUrl, fetchFn })
    expect(found.authorizationServerUrl).toBe('https://app.example.com')
    expect(found.resourceMetadata).toMatchObject({ resource: 'http://localhost/mcp', authorization_servers: ['https://app.example.com'] })
    // Probing by itself (no challenge read), it falls back from the path-suffixed location to this one.
    expect((await discoverOAuthServerInfo('http://localhost/mcp', { fetchFn })).resourceMetadata).toEqual(found.resourceMetadata)
    // The resource it will ask Better Auth a token for is this endpoint.
    expect(String(await selectResourceURL('http://localhost/mcp', {} as OAuthClientProvider, found.resourceMetadata))).toBe(
      'http://localhost/mcp',
    )
  })

  test('a valid token reaches the tools; an HS256 token of our own and the REST rules for tokens hold', async () => {
    const user = await signedInUser()
    const reply = await user.call('POST', '/mcp', { body: LIST_TOOLS, headers: MCP_HEADERS })
    expect(reply.status).toBe(200)
    expect(reply.headers.get('content-type')).toContain('application/json')
    expect(reply.headers.get('x-request-id')).toBeString()
    // Stateless: no session is made or named.
    expect(reply.headers.get('mcp-session-id')).toBeNull()
    expect(reply.body).toMatchObject({ jsonrpc: '2.0', id: 1, result: { tools: expect.any(Array) } })
    // A token in the query string is not read, here as anywhere.
    const query = await call('POST', `/mcp?access_token=${user.token}`, { body: LIST_TOOLS, headers: MCP_HEADERS })
    expectUnauthenticated(query, 'token_missing', undefined, user.token)
  })

  test('GET and DELETE /mcp are 405 (no sessions, no standalone stream); a notification is 202; bad bodies are the JSON errors of any route', async () => {
    const user = await signedInUser()
    for (const method of ['GET', 'DELETE']) {
      const reply = await user.call(method, '/mcp', { headers: { accept: 'text/event-stream' } })
      expect(reply.status).toBe(405)
      expect(reply.headers.get('allow')).toBe('POST')
      expect(reply.body).toEqual({ detail: expect.any(String), code: 'method_not_allowed' })
      // Without a token, the challenge comes first, as on POST: a client learns where to sign in.
      const anonymous = await call(method, '/mcp', { headers: { accept: 'text/event-stream' } })
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get('www-authenticate')).toContain('resource_metadata=')
    }
    const notification = await user.call('POST', '/mcp', {
      body: { jsonrpc: '2.0', method: 'notifications/initialized' },
      headers: MCP_HEADERS,
    })
    expect(notification.status).toBe(202)
    expect((await user.call('POST', '/mcp', { raw: '{"jsonrpc":', headers: MCP_HEADERS })).status).toBe(400)
    expect((await user.call('POST', '/mcp', { raw: 'x'.repeat(70_000), headers: MCP_HEADERS })).status).toBe(413)
    expect((await user.call('POST', '/mcp', { raw: JSON.stringify(LIST_TOOLS), headers: { accept: MCP_HEADERS.accept } })).status).toBe(415)
    // Accept must name both answers the transport may give (the SDK's rule): 406 in JSON-RPC's shape.
    const unacceptable = await user.call('POST', '/mcp', { body: LIST_TOOLS, headers: { 'content-type': 'application/json' } })
    expect(unacceptable.status).toBe(406)
    expect(unacceptable.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } })
  })

  test('CORS: a browser MCP client of an allowed origin may send Mcp-Protocol-Version and read a 401 challenge; another origin is 403', async () => {
    const origin = 'http://localhost:3000'
    const preflight = await call('OPTIONS', '/mcp', {
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,mcp-protocol-version',
      },
    })
    expect([200, 204]).toContain(preflight.status)
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('mcp-protocol-version')
    const user = await signedInUser()
    const allowed = await user.call('POST', '/mcp', { body: LIST_TOOLS, headers: { ...MCP_HEADERS, origin } })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin)
    // Another origin's page (DNS rebinding, a hostile site) is refused before any tool runs, token or not.
    const hostile = await user.call('POST', '/mcp', { body: LIST_TOOLS, headers: { ...MCP_HEADERS, origin: 'http://evil.example' } })
    expect([hostile.status, hostile.body.code]).toEqual([403, 'forbidden'])
    const denied = await call('POST', '/mcp', { body: LIST_TOOLS, headers: { ...MCP_HEADERS, origin } })
    expect(denied.status).toBe(401)
    expect(denied.headers.get('access-control-allow-origin')).toBe(origin)
    expect(denied.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('www-authenticate')
  })
})

describe('writes through MCP reach the change feed and live streams', () => {
  test('add_task, update_task and delete_task show in GET /api/sync after an earlier cursor', async () => {
    const user = await signedInUser()
    const { cursor } = await sync(user)
    const client = await mcpClient(user.token)
    const task = answerOf(await client.callTool({ name: 'add_task', arguments: { title: 'from an agent' } }))
    const other = answerOf(await client.callTool({ name: 'add_task', arguments: { title: 'to delete' } }))
    const updated = answerOf(await client.callTool({ name: 'update_task', arguments: { task_id: task.id, priority: 'high' } }))
    answerOf(await client.callTool({ name: 'delete_task', arguments: { task_id: other.id } }))
    const changes = (await sync(user, cursor)).changes.filter((change) => change.type === 'task')
    expect(changes).toEqual([
      { type: 'task', op: 'upsert', id: task.id, data: updated },
      { type: 'task', op: 'delete', id: other.id },
    ])
  })

  test('a write reaches an open /api/events stream at once', async () => {
    const user = await signedInUser()
    const reader = readEvents(
      await app.handle(new Request('http://localhost/api/events', { headers: { authorization: `Bearer ${user.token}` } })),
    )
    try {
      await waitForComment(reader)
      const client = await mcpClient(user.token)
      const task = answerOf(await client.callTool({ name: 'add_task', arguments: { title: 'live from an agent' } }))
      expect((await untilTask(reader, task.id)).at(-1)!.change).toEqual({ type: 'task', op: 'upsert', id: task.id, data: task })
    } finally {
      await reader.close()
    }
  })

  test('the notifier hears of each write a tool made, and of nothing else: not of reads, failed calls or replays', async () => {
    const told: string[] = []
    const live = localLive()
    const notifier: Notifier = { ...live.notifier, changed: (id) => told.push(id) }
    const watched = await createApp({ database, config: testConfig(), logger, live: { ...live, notifier } })
    const user = await signedInUser()
    const client = await mcpClient(user.token, watched)
    await client.listTools()
    answerOf(await client.callTool({ name: 'list_tasks', arguments: {} }))
    answerOf(await client.callTool({ name: 'list_lists', arguments: {} }))
    errorOf(await client.callTool({ name: 'get_task', arguments: { task_id: 1, user_id: 'someone else' } }))
    expect(told).toEqual([])
    const args = { title: 'once', idempotency_key: crypto.randomUUID() }
    const task = answerOf(await client.callTool({ name: 'add_task', arguments: args }))
    answerOf(await client.callTool({ name: 'add_task', arguments: args }))
    answerOf(await client.callTool({ name: 'complete_task', arguments: { task_id: task.id } }))
    errorOf(await client.callTool({ name: 'delete_task', arguments: { task_id: Number.MAX_SAFE_INTEGER } }))
    expect(told).toEqual([user.id, user.id])
    // The REST routes still tell it by their method.
    expect((await call('POST', '/api/tasks', { token: user.token, body: { title: 'over REST' }, on: watched })).status).toBe(201)
    expect(told).toEqual([user.id, user.id, user.id])
  })
})

describe('idempotency_key', () => {
  test('the same key and arguments: the first result again, marked replayed, and one write', async () => {
    const user = await signedInUser()
    const client = await mcpClient(user.token)
    const key = crypto.randomUUID()
    const first = await client.callTool({ name: 'add_task', arguments: { title: 'once', tags: ['a', 'b'], idempotency_key: key } })
    // The same arguments in another order are the same call.
    const again = await client.callTool({ name: 'add_task', arguments: { idempotency_key: key, tags: ['a', 'b'], title: 'once' } })
    expect(again).toEqual({ ...first, _meta: { idempotent_replayed: true } })
    expect(first._meta).toBeUndefined()
    expect((await user.call('GET', '/api/tasks')).body).toEqual([answerOf(first)])
    // A failed call is kept too (it was not a 5xx): the same error, nothing written meanwhile.
    const missing = { task_id: Number.MAX_SAFE_INTEGER, idempotency_key: crypto.randomUUID() }
    const failed = await client.callTool({ name: 'delete_task', arguments: missing })
    expect(errorOf(failed).code).toBe('task_not_found')
    expect(await client.callTool({ name: 'delete_task', arguments: missing })).toEqual({ ...failed, _meta: { idempotent_replayed: true } })
  })

  test('the same key with other arguments, another tool, or a REST write: idempotency_key_reused; another user has keys of their own', async () => {
    const user = await signedInUser()
    const client = await mcpClient(user.token)
    const key = crypto.randomUUID()
    answerOf(await client.callTool({ name: 'add_task', arguments: { title: 'first', idempotency_key: key } }))
    for (const [name, args] of [
      ['add_task', { title: 'second' }],
      ['create_list', { name: 'first' }],
    ] as const)
      expect(errorOf(await client.callTool({ name, arguments: { ...args, idempotency_key: key } }))).toEqual({
        detail: expect.any(String),
        code: 'idempotency_key_reused',
      })
    const overRest = await user.call('POST', '/api/tasks', { body: { title: 'first' }, headers: { 'idempotency-key': key } })
    expect([overRest.status, overRest.body.code]).toEqual([422, 'idempotency_key_reused'])
    const restKey = crypto.randomUUID()
    expect((await user.call('POST', '/api/tasks', { body: { title: 'rest' }, headers: { 'idempotency-key': restKey } })).status).toBe(201)
    expect(errorOf(await client.callTool({ name: 'add_task', arguments: { title: 'rest', idempotency_key: restKey } })).code).toBe(
      'idempotency_key_reused',
    )
    expect((await user.call('GET', '/api/tasks')).body.map((task: { title: string }) => task.title)).toEqual(['rest', 'first'])
    const stranger = await signedInUser()
    const theirs = answerOf(
      await (await mcpClient(stranger.token)).callTool({ name: 'add_task', arguments: { title: 'theirs', idempotency_key: key } }),
    )
    expect(theirs.title).toBe('theirs')
  })

  test('read-only tools take no idempotency_key', async () => {
    const client = await mcpClient((await signedInUser()).token)
    expect(errorOf(await client.callTool({ name: 'list_tasks', arguments: { idempotency_key: 'k' } })).errors).toEqual([
      { field: 'idempotency_key', message: 'is not an accepted field' },
    ])
  })
})

describe('one token verifier', () => {
  test('a token accepted on REST is accepted on /mcp for the same user, and one refused is refused with the same code', async () => {
    const id = userId()
    const token = await tokenFor(id)
    const client = await mcpClient(token)
    const task = answerOf(await client.callTool({ name: 'add_task', arguments: { title: 'same user' } }))
    expect((await call('GET', `/api/tasks/${task.id}`, { token })).status).toBe(200)
    const noSub = await signJwt({ iat: nowSeconds(), exp: nowSeconds() + 60 })
    const [restReply, mcpReply] = [
      await call('GET', '/api/tasks', { token: noSub }),
      await call('POST', '/mcp', { token: noSub, body: LIST_TOOLS, headers: MCP_HEADERS }),
    ]
    expect(mcpReply.body).toEqual(restReply.body)
  })
})
