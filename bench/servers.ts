// The two servers under load: the service (src/index.ts) and the reference
// (bench/reference.ts), started pinned to core 0 with the same environment,
// the tokens they accept, and the check that they answer alike.

import type { Subprocess } from 'bun'
import { SignJWT } from 'jose'
import { options, REFERENCE_ENV, ROOT, SCENARIOS, SERVICE_ENV } from './options'
import { pin, reportUnexpectedExit, spawn, stopProcess } from './processes'

export type Kind = 'service' | 'reference'

export interface Server {
  kind: Kind
  child: Subprocess
  pid: number
  port: number
  /** application_name of its database connections. */
  application: string
}

const BUN = process.execPath

export async function mintTokens(secret: string, users: string[]): Promise<Map<string, string>> {
  const key = new TextEncoder().encode(secret)
  const tokens = new Map<string, string>()
  for (const user of users)
    tokens.set(
      user,
      await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(user)
        .setIssuedAt()
        .setExpirationTime('3h')
        .sign(key),
    )
  return tokens
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  return port
}

async function waitHealthy(child: Subprocess, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before /health answered`)
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {}
    await Bun.sleep(5)
  }
  throw new Error(`/health did not answer 200 within ${timeoutMs} ms`)
}

/**
 * Starts a server pinned to core 0 on PostgreSQL (a URL) or, for the service,
 * on embedded PGlite ({ dataDir }); resolves when /health answers 200, with
 * the time that took.
 */
export async function startServer(
  kind: Kind,
  database: string | { dataDir: string },
  secret: string,
): Promise<Server & { startMs: number }> {
  const port = freePort()
  const script = kind === 'service' ? 'src/index.ts' : options['reference-script']!
  const started = performance.now()
  const profile = options['cpu-prof']
    ? ['--cpu-prof-md', `--cpu-prof-dir=${options['cpu-prof']}`, `--cpu-prof-name=${kind}-${port}.md`]
    : []
  const child = spawn([...pin('0'), BUN, ...profile, '--no-env-file', script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      PORT: String(port),
      ...(typeof database === 'string' ? { DATABASE_URL: database } : { DATA_DIR: database.dataDir }),
      BETTER_AUTH_SECRET: secret,
      DATABASE_POOL_MAX: '10',
      LOG_LEVEL: options['log-level']!,
      ...(kind === 'reference' ? REFERENCE_ENV : SERVICE_ENV),
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'inherit',
  })
  reportUnexpectedExit(child, kind)
  try {
    await waitHealthy(child, port, 60_000)
  } catch (error) {
    await stopProcess(child, 3000)
    throw new Error(`${kind}: ${(error as Error).message}`)
  }
  return {
    kind,
    child,
    pid: child.pid,
    port,
    application: kind === 'service' ? 'todo-api' : 'bench-reference',
    startMs: performance.now() - started,
  }
}

export async function stopServers(servers: Record<string, { child: Subprocess }>): Promise<void> {
  for (const server of Object.values(servers)) await stopProcess(server.child)
}

/** Whose requests the same-answers check sends: a user's token, another user's, and ids the first one owns. */
export interface CheckIds {
  token: string
  otherToken: string
  taskId: number
  /** A list holding tasks, and one holding none. */
  listId: number
  emptyListId: number
}

/**
 * The comparison means something only if both servers do the same work: the
 * reads the benchmark sends must get the same status, body and headers from
 * both, and the writes answers of the same shape. Stops the run otherwise.
 */
export async function checkSameAnswers(service: Server, reference: Server, ids: CheckIds): Promise<void> {
  const ask = async (
    server: Server,
    method: string,
    path: string,
    body?: unknown,
    bearer = ids.token,
    extra: Record<string, string> = {},
  ) => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    const header = (name: string) => response.headers.get(name)
    return { status: response.status, body: text ? JSON.parse(text) : undefined, header }
  }
  const differ = (what: string, a: unknown, b: unknown) => {
    throw new Error(`service and reference differ on ${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
  }
  const inList = (listId: number, query: string) => `/api/tasks?list_id=${listId}&sort=position${query}`
  // Each read as the owner and as another user (who gets 422 for the owner's list).
  for (const path of [
    '/api/tasks?limit=50',
    '/api/tasks?limit=10&offset=10',
    '/api/tasks?limit=20&offset=45',
    '/api/tasks?offset=1000',
    `/api/tasks/${ids.taskId}`,
    '/api/tasks/2147483647',
    '/api/lists',
    inList(ids.listId, '&limit=50'),
    inList(ids.listId, '&limit=3&offset=3'),
    inList(ids.listId, '&offset=1000'),
    inList(ids.emptyListId, '&limit=50'),
    inList(2147483647, ''),
  ])
    for (const bearer of [ids.token, ids.otherToken]) {
      const [s, r] = [await ask(service, 'GET', path, undefined, bearer), await ask(reference, 'GET', path, undefined, bearer)]
      if (s.status !== r.status) differ(`GET ${path} status`, s.status, r.status)
      if (!Bun.deepEquals(s.body, r.body)) differ(`GET ${path} body`, s.body, r.body)
      for (const name of ['x-total-count', 'link', 'etag'])
        if (s.header(name) !== r.header(name)) differ(`GET ${path} ${name}`, s.header(name), r.header(name))
    }
  // Revalidation: the current ETag is a 304 without a body, a stale one the list again.
  const listed = await ask(service, 'GET', '/api/tasks?limit=50')
  for (const tag of [listed.header('etag')!, '"0-stale"']) {
    const headers = { 'if-none-match': tag }
    const [s, r] = [
      await ask(service, 'GET', '/api/tasks?limit=50', undefined, ids.token, headers),
      await ask(reference, 'GET', '/api/tasks?limit=50', undefined, ids.token, headers),
    ]
    if (s.status !== r.status || s.header('etag') !== r.header('etag'))
      differ(`GET /api/tasks?limit=50 If-None-Match: ${tag}`, [s.status, s.header('etag')], [r.status, r.header('etag')])
    if (!Bun.deepEquals(s.body, r.body)) differ(`GET /api/tasks?limit=50 If-None-Match: ${tag} body`, s.body, r.body)
  }
  if (SCENARIOS.includes('mcp-list')) {
    // The MCP tool's answer, structured content and text, as the REST list's tasks.
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_tasks', arguments: { limit: 50 } } }
    const accept = { accept: 'application/json, text/event-stream' }
    const [s, r] = [
      await ask(service, 'POST', '/mcp', call, ids.token, accept),
      await ask(reference, 'POST', '/mcp', call, ids.token, accept),
    ]
    if (s.status !== r.status || !Bun.deepEquals(s.body, r.body))
      differ('POST /mcp tools/call list_tasks', [s.status, s.body], [r.status, r.body])
  }
  const shape = (answer: Awaited<ReturnType<typeof ask>>) => ({
    status: answer.status,
    keys: Object.keys(answer.body ?? {}).sort(),
    etag: /^"\d+\.\d+"$/.test(answer.header('etag') ?? ''),
    location: /^\/api\/tasks\/\d+$/.test(answer.header('location') ?? ''),
  })
  for (const [method, path, body] of [
    ['POST', '/api/tasks', { title: 'bench check' }],
    ['PATCH', `/api/tasks/${ids.taskId}`, { title: `bench check ${Date.now()}` }],
    ['PATCH', `/api/tasks/${ids.taskId}/complete`, undefined],
  ] as const) {
    const [s, r] = [shape(await ask(service, method, path, body)), shape(await ask(reference, method, path, body))]
    if (!Bun.deepEquals(s, r)) differ(`${method} ${path}`, s, r)
  }
}
