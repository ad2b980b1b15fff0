// OWASP API Security Top 10 (2023) attack matrix, one table-driven test per category. Every row also holds
// `clean` (never 5xx; no stack, SQL, token or secret; never the victim's data), and after each table the victim's
// tasks, ETags and account are exactly as before. test/README.md maps every case to where it is tested.
import { afterAll, describe, expect, test } from 'bun:test'
import { exportJWK, generateKeyPair } from 'jose'
import { createApp } from '../src/app'
import { TaskModel } from '../src/tasks/model'
import { sendRaw } from './sockets'
import {
  app,
  base64urlJson,
  call,
  createTask,
  database,
  errorBody,
  expectNoLeak,
  JSON_TYPE,
  logger,
  nowSeconds,
  type Reply,
  randomAddress,
  randomEmail,
  secret,
  signedUpUser,
  signJwt,
  signUp,
  type TestApp,
  testConfig,
  validationError,
  validClaims,
} from './support'

const STACK = /\n\s+at\s|\bat\s+\S*\s?\(?[^\s()]+\.(ts|js|mjs):\d+/
const SQL =
  /failed query|\bparams:|\bfrom\s+"tasks"|"tasks"\."|\binsert\s+into\b|\bdelete\s+from\s+"|\bupdate\s+"tasks"|syntax error at or near|violates [\w -]+constraint|SQLSTATE/i
// The task as the model declares it, sorted as the checks compare keys.
const TASK_KEYS = Object.keys(TaskModel.task.properties).sort()
// Every 422 here may name the field or a path inside it.
const invalid = (field: string) => validationError(field, true)
/** Status and body together, with the row's name in the diff. */
const is = (name: string, reply: Reply, status: number, body: unknown, headers: Record<string, unknown> = {}) =>
  expect({
    name,
    status: reply.status,
    body: reply.body,
    ...Object.fromEntries(Object.keys(headers).map((h) => [h, reply.headers.get(h)])),
  }).toEqual({ name, status, body, ...headers })
const oneOf = (name: string, reply: Reply, bodies: Record<number, unknown>) =>
  is(name, reply, reply.status in bodies ? reply.status : Number(Object.keys(bodies)[0]), bodies[reply.status])

type Check = (reply: Reply, name: string) => void | Promise<void>
interface Row {
  name: string
  send: () => Promise<Reply>
  check: Check
  tokens?: string[]
}
const row = (name: string, send: () => Promise<Reply>, check: Check, tokens?: string[]): Row => ({ name, send, check, tokens })
const want =
  (status: number, body: unknown, headers?: Record<string, unknown>): Check =>
  (reply, name) =>
    is(name, reply, status, body, headers)
const JSON_CT = { 'content-type': expect.stringContaining('application/json') }
const ONE = { 'x-total-count': '1' } // the attacker's one task: the victim's are never counted

/** A victim with two tasks, an attacker with one, and the victim's full state to compare against. */
async function scene() {
  const [victim, attacker] = [await signedUpUser({ name: 'victim person' }), await signedUpUser({ name: 'attacker person' })]
  const marker = `victim-secret-${crypto.randomUUID()}`
  const task = await createTask(victim, {
    title: marker,
    description: 'private notes',
    tags: ['private'],
    due_date: '2030-01-01T00:00:00Z',
    priority: 'high',
  })
  expect((await victim.call('PATCH', `/api/tasks/${(await createTask(victim, { title: 'second' })).id}/complete`)).status).toBe(200)
  const own = await createTask(attacker, { title: 'attacker own' })
  const state = async () => {
    const list = await victim.call('GET', '/api/tasks?limit=1000')
    const tasks = await Promise.all(
      (list.body as { id: number }[]).map(({ id }) =>
        victim.call('GET', `/api/tasks/${id}`).then((one) => ({ status: one.status, body: one.body, etag: one.headers.get('etag') })),
      ),
    )
    const me = await victim.call('GET', '/api/auth/me')
    return { list: [list.status, list.body, list.headers.get('x-total-count')], tasks, me: [me.status, me.body] }
  }
  const before = await state()
  expect(before.tasks.map((t) => t.status)).toEqual([200, 200])
  expect(before.me).toEqual([200, { id: victim.id, email: victim.email, name: 'victim person', created_at: expect.any(String) }])
  const etag = before.tasks.find((t) => t.body.id === task.id)!.etag!
  return { victim, attacker, task, etag, own, marker, unchanged: async () => expect(await state()).toEqual(before) }
}
type Scene = Awaited<ReturnType<typeof scene>>

/** The invariants every row of every table holds. */
function clean(name: string, reply: Reply, s: Scene, extra: string[] = []) {
  expect({ name, serverError: reply.status >= 500 }).toEqual({ name, serverError: false })
  expectNoLeak(reply.text)
  for (const [what, value] of [
    ['victim token', s.victim.token],
    ['attacker token', s.attacker.token],
    ['secret', secret],
    ['victim data', s.marker],
    ...extra.map((e) => ['row token', e]),
  ])
    expect({ name, leaks: what, found: reply.text.includes(value!) }).toEqual({ name, leaks: what, found: false })
  expect({ name, stack: STACK.test(reply.text), sql: SQL.test(reply.text) }).toEqual({ name, stack: false, sql: false })
  for (const body of Array.isArray(reply.body) ? reply.body : [reply.body])
    if (body && typeof body === 'object')
      for (const key of ['user_id', 'password_hash', 'version'])
        expect({ name, key, present: key in body }).toEqual({ name, key, present: false })
}

async function run(s: Scene, rows: Row[]) {
  try {
    for (const { name, send, check, tokens } of rows) await send().then((reply) => (clean(name, reply, s, tokens), check(reply, name)))
  } finally {
    await s.unchanged()
  }
}

// A real listener, for what a Request object cannot carry (newlines in headers, unknown methods).
const listener = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => app.handle(request) })
afterAll(() => listener.stop(true))
const overSocket = (head: string) => sendRaw(listener.port!, head)

const VERBS: [string, string, Record<string, unknown>?][] = [
  ['GET', ''],
  ['PUT', '', { title: 'pwned' }],
  ['PATCH', '', { title: 'pwned', completed: true }],
  ['DELETE', ''],
  ['PATCH', '/complete'],
  ['PATCH', '/complete', { completed: true }],
]

describe('OWASP API Security Top 10', () => {
  test('API1 broken object level authorization: every route, every id form, both path styles', async () => {
    const s = await scene()
    const { victim, attacker, task, etag, own } = s
    const V = task.id
    const rows: Row[] = []
    // Spellings of the victim's id: 422 naming id, or a path that no longer names a task (404).
    const forms: [string, 404 | 422][] = [
      ['%2F', 422],
      [`${V}%2F`, 422],
      [`%2F${V}`, 422],
      ['..', 404],
      ['%2E%2E', 404],
      [`%2E%2E%2F${V}`, 422],
      [`..%2F${V}`, 422],
      [` ${V}`, 422],
      [`%20${V}`, 422],
      [`${V}%20`, 422],
      ['99999999999999999999', 422],
      [`-${V}`, 422],
      ['-1', 422],
      ['0', 422],
      [`${V}.0`, 422],
      [`${V}.5`, 422],
      [`0x${V.toString(16)}`, 422],
      ['1e3', 422],
      [`${V}e0`, 422],
      [`+${V}`, 422],
      [`${V};`, 422],
      [`${V}%3B`, 422],
      [`${V}%00`, 422],
      [`${V}%0A`, 422],
    ]
    for (const [method, suffix, body] of VERBS) {
      const verb = `${method} {id}${suffix}${body ? ' +body' : ''}`
      for (const ifMatch of [undefined, '*', etag, `"${V}.999"`])
        rows.push(
          row(
            `${verb} If-Match ${ifMatch ?? 'none'}`,
            () => attacker.call(method, `/api/tasks/${V}${suffix}`, { body, headers: ifMatch ? { 'if-match': ifMatch } : {} }),
            want(403, errorBody('forbidden')),
          ),
        )
      for (const [form, status] of forms)
        rows.push(
          row(
            `${verb} id=${form}`,
            () => attacker.call(method, `/api/tasks/${form}${suffix}`, { body }),
            want(status, status === 422 ? invalid('id') : errorBody('not_found')),
          ),
        )
      for (const base of [victim.id, encodeURIComponent(victim.id.toUpperCase())])
        rows.push(
          row(
            `${verb} under /api/${base === victim.id ? '{victim_id}' : '{VICTIM_ID}'}`,
            () => attacker.call(method, `/api/${base}/tasks/${V}${suffix}`, { body }),
            want(403, errorBody('forbidden')),
          ),
        )
      rows.push(
        row(
          `${verb} under /api/{attacker_id}`,
          () => attacker.call(method, `/api/${attacker.id}/tasks/${V}${suffix}`, { body }),
          (r, name) => oneOf(name, r, { 403: errorBody('forbidden'), 404: errorBody('task_not_found') }),
        ),
      )
    }
    rows.push(
      row('GET /api/{victim_id}/tasks', () => attacker.call('GET', `/api/${victim.id}/tasks`), want(403, errorBody('forbidden'))),
      row(
        'POST /api/{victim_id}/tasks',
        () => attacker.call('POST', `/api/${victim.id}/tasks`, { body: { title: 'planted' } }),
        want(403, errorBody('forbidden')),
      ),
      row(
        "GET /api/tasks?id={victim}: the list, the attacker's own",
        () => attacker.call('GET', `/api/tasks?id=${V}&user_id=${victim.id}`),
        want(200, [own], ONE),
      ),
      row('GET /api/tasks/{own}?id={victim}: the path wins', () => attacker.call('GET', `/api/tasks/${own.id}?id=${V}`), want(200, own)),
      ...['DELETE', 'PATCH', 'PUT'].map((method) =>
        row(
          `${method} /api/tasks?id={victim}`,
          () => attacker.call(method, `/api/tasks?id=${V}`, { body: { title: 'x' } }),
          want(405, errorBody('method_not_allowed')),
        ),
      ),
    )
    await run(s, rows)
    expect((await attacker.call('GET', '/api/tasks')).body).toEqual([own])
  })

  test('API2 broken authentication: forged, stale, misplaced and oversized tokens', async () => {
    const s = await scene()
    const { victim, attacker, task } = s
    const claims = (extra: Record<string, unknown> = {}) => validClaims({ sub: victim.id, ...extra })
    const other = 'another-secret-of-at-least-32-characters!'
    const session = { id: 'sess1', userId: victim.id, token: 'opaque', expiresAt: new Date(Date.now() + 3600e3).toISOString() }
    const bearer = async (token: string | Promise<string>) => ({ authorization: `Bearer ${await token}` })
    const attacks: [string, () => Promise<{ authorization?: string; query?: string }>, string][] = [
      ['alg none', () => bearer(`${base64urlJson({ alg: 'none', typ: 'JWT' })}.${base64urlJson(claims())}.`), 'token_invalid'],
      ['HS384 with the secret', () => bearer(signJwt(claims(), secret, { alg: 'HS384' })), 'token_invalid'],
      ['HS512 with the secret', () => bearer(signJwt(claims(), secret, { alg: 'HS512' })), 'token_invalid'],
      ['a wrong secret', () => bearer(signJwt(claims(), other)), 'token_invalid'],
      ['expired', () => bearer(signJwt(claims({ iat: nowSeconds() - 7200, exp: nowSeconds() - 120 }))), 'token_expired'],
      ['nbf in the future', () => bearer(signJwt(claims({ nbf: nowSeconds() + 300 }))), 'token_invalid'],
      ['iat in the future', () => bearer(signJwt(claims({ iat: nowSeconds() + 300 }))), 'token_invalid'],
      ['no sub', () => bearer(signJwt({ iat: nowSeconds(), exp: nowSeconds() + 3600 })), 'token_invalid'],
      ['no exp', () => bearer(signJwt({ sub: victim.id, iat: nowSeconds() })), 'token_invalid'],
      ['an empty sub', () => bearer(signJwt(claims({ sub: '' }))), 'token_invalid'],
      [
        'a sub of 10,000 characters',
        () => bearer(signJwt(claims({ sub: `${victim.id}${'x'.repeat(10_000 - victim.id.length)}` }))),
        'token_invalid',
      ],
      ['a 17 KB token (wrong secret)', () => bearer(signJwt(claims({ pad: 'p'.repeat(17 * 1024) }), other)), 'token_invalid'],
      ['the victim token in ?token=', async () => ({ query: `token=${victim.token}` }), 'token_missing'],
      ['the victim token in ?access_token=', async () => ({ query: `access_token=${victim.token}` }), 'token_missing'],
      ['Bearer twice', async () => ({ authorization: `Bearer Bearer ${victim.token}` }), 'token_invalid'],
      [
        'two Authorization headers (joined)',
        async () => ({ authorization: `Bearer ${attacker.token}, Bearer ${victim.token}` }),
        'token_invalid',
      ],
      [
        'a Better Auth session_data token without sub',
        () => bearer(signJwt({ session, user: { id: victim.id, email: victim.email }, iat: nowSeconds(), exp: nowSeconds() + 300 })),
        'token_invalid',
      ],
      ['a tab after Bearer', async () => ({ authorization: `Bearer\t${victim.token}` }), 'token_invalid'],
      [
        'a tab inside the token',
        async () => ({ authorization: `Bearer ${victim.token.slice(0, 20)}\t${victim.token.slice(20)}` }),
        'token_invalid',
      ],
    ]
    const rows: Row[] = []
    for (const [name, make, code] of attacks) {
      const made = await make()
      const headers: Record<string, string> = made.authorization ? { authorization: made.authorization } : {}
      const token = made.authorization?.replace(/^Bearer\s+/, '') ?? victim.token
      const parts = token.split(/[.\s,]/).filter((p) => p.length > 16)
      const unauthenticated: Check = (r, label) =>
        is(label, r, 401, errorBody(code), {
          'www-authenticate': expect.stringMatching(new RegExp(`^Bearer(?!.*(${parts.map((p) => p.replace(/[^\w-]/g, '.')).join('|')}))`)),
        })
      const q = made.query ? `?${made.query}` : ''
      rows.push(row(`${name}: list`, () => call('GET', `/api/tasks${q}`, { headers }), unauthenticated, [token]))
      rows.push(row(`${name}: write`, () => call('PATCH', `/api/tasks/${task.id}/complete${q}`, { headers }), unauthenticated, [token]))
    }
    rows.push(
      row(
        'lowercase bearer (accepted)',
        () => call('GET', '/api/tasks', { headers: { authorization: `bearer ${attacker.token}` } }),
        want(200, [s.own], ONE),
      ),
      row(
        'lowercase bearer on the victim task',
        () => call('DELETE', `/api/tasks/${task.id}`, { headers: { authorization: `bearer ${attacker.token}` } }),
        want(403, errorBody('forbidden')),
      ),
      // A Fetch header cannot hold CR/LF (TypeError); on the wire Bun's HTTP parser refuses it (400, empty body) before the app.
      ...[`Bearer\n${victim.token}`, `Bearer\r\n ${victim.token}`, `Bearer\r${victim.token}`].map((value) =>
        row(
          `newline in the header value ${JSON.stringify(value.slice(0, 8))}`,
          () => overSocket(`GET /api/tasks HTTP/1.1\r\nAuthorization: ${value}\r\n`),
          (r, name) => oneOf(name, r, { 401: errorBody('token_invalid'), 400: undefined }),
        ),
      ),
    )
    expect(() => new Headers({ authorization: `Bearer\n${victim.token}` })).toThrow(TypeError)
    await run(s, rows)
  })

  test('API3 broken object property level authorization: server-owned and unknown fields are 422', async () => {
    const s = await scene()
    const { victim, attacker, own, task } = s
    const before = await attacker.call('GET', `/api/tasks/${own.id}`)
    const v = JSON.stringify(victim.id)
    const FIELDS: [string, string][] = [
      ['id', String(task.id)],
      ['user_id', v],
      ['created_at', '"2000-01-01T00:00:00Z"'],
      ['updated_at', '"2000-01-01T00:00:00Z"'],
      ['version', '999'],
      ['__proto__', `{"user_id":${v}}`],
      ['constructor', `{"prototype":{"user_id":${v}}}`],
      ['prototype', `{"user_id":${v}}`],
      ['owner', v],
      ['userId', v],
      ['password_hash', '"x"'],
      ['tags', `[{"user_id":${v}}]`],
    ]
    const TARGETS: [string, string, string][] = [
      ['POST', '/api/tasks', '"title":"mass"'],
      ['POST', `/api/${attacker.id}/tasks`, '"title":"mass"'],
      ['PUT', `/api/tasks/${own.id}`, '"title":"mass"'],
      ['PATCH', `/api/tasks/${own.id}`, '"title":"mass"'],
      ['PATCH', `/api/${attacker.id}/tasks/${own.id}`, '"completed":true'],
      ['PATCH', `/api/tasks/${own.id}/complete`, '"completed":true'],
    ]
    const rows: Row[] = TARGETS.flatMap(([method, path, base]) =>
      FIELDS.map(([field, value]) =>
        row(
          `${method} ${path.replace(attacker.id, '{me}')} with ${field}`,
          () => attacker.call(method, path, { raw: `{${base},"${field}":${value}}`, headers: JSON_TYPE }),
          want(422, invalid(field)),
        ),
      ),
    )
    for (const method of ['PUT', 'PATCH'])
      rows.push(
        row(
          `${method} the victim task with user_id = attacker`,
          () => attacker.call(method, `/api/tasks/${task.id}`, { body: { title: 'mine now', user_id: attacker.id } }),
          (r, name) => oneOf(name, r, { 403: errorBody('forbidden'), 422: invalid('user_id') }),
        ),
      )
    await run(s, rows)
    expect(({} as Record<string, unknown>).user_id).toBeUndefined()
    const [after, list] = [await attacker.call('GET', `/api/tasks/${own.id}`), await attacker.call('GET', '/api/tasks')]
    expect([after.body, after.headers.get('etag'), Object.keys(after.body).sort()]).toEqual([
      before.body,
      before.headers.get('etag'),
      TASK_KEYS,
    ])
    expect([list.body, /user_id|password_hash|"version"/.test(list.text)]).toEqual([[own], false])
  })

  test('API4 unrestricted resource consumption: sizes, counts, repeats and bursts are bounded', async () => {
    const s = await scene()
    const { attacker, own, victim } = s
    const tight: TestApp = await createApp({
      database,
      config: testConfig(),
      logger,
      authLimits: { signup: { burst: 2, refillSeconds: 3600 }, signin: { burst: 3, refillSeconds: 3600 } },
    })
    const from = randomAddress()
    const burst = async (path: string, body: () => Record<string, unknown>, expected: number[]) => {
      const replies: Reply[] = []
      for (const _ of expected)
        replies.push(await call('POST', `/api/auth/${path}`, { on: tight, body: body(), headers: { 'x-forwarded-for': from } }))
      expect(replies.map((r) => r.status)).toEqual(expected)
      return replies.at(-1)!
    }
    const rateLimited: Check = (r, name) =>
      is(
        name,
        r,
        429,
        { detail: expect.stringContaining(`${r.headers.get('retry-after')} s`), code: 'rate_limited' },
        { 'retry-after': expect.stringMatching(/^[1-9]\d*$/) },
      )
    const big = (bytes: number) => JSON.stringify({ title: 'big', description: 'd'.repeat(bytes) })
    let elapsed = 0
    const rows: Row[] = [
      row(
        'title of 10,000',
        () => attacker.call('POST', '/api/tasks', { body: { title: 't'.repeat(10_000) } }),
        want(422, invalid('title')),
      ),
      row(
        'description of 10,000',
        () => attacker.call('PATCH', `/api/tasks/${own.id}`, { body: { description: 'd'.repeat(10_000) } }),
        want(422, invalid('description')),
      ),
      row(
        '1000 tags',
        () => attacker.call('POST', '/api/tasks', { body: { title: 't', tags: Array.from({ length: 1000 }, (_, i) => `t${i}`) } }),
        want(422, invalid('tags')),
      ),
      ...(
        [
          ['100 KB', 100 * 1024],
          ['10 MB', 10 * 1024 * 1024],
        ] as const
      ).flatMap(([size, bytes]) =>
        [
          ['POST', '/api/tasks'],
          ['PUT', `/api/tasks/${own.id}`],
        ].map(([method, path]) =>
          row(
            `${size} body to ${method} ${path}`,
            () => attacker.call(method!, path!, { raw: big(bytes), headers: JSON_TYPE }),
            want(413, { detail: 'Request body is larger than 64 KiB', code: 'payload_too_large' }, JSON_CT),
          ),
        ),
      ),
      row('limit=1000000', () => attacker.call('GET', '/api/tasks?limit=1000000'), want(422, invalid('limit'))),
      row('offset past int4', () => attacker.call('GET', '/api/tasks?offset=99999999999'), want(422, invalid('offset'))),
      row(
        'limit repeated 200 times',
        () => attacker.call('GET', `/api/tasks?${Array.from({ length: 200 }, (_, i) => `limit=${i + 1}`).join('&')}`),
        (r, name) => oneOf(name, r, { 200: [own], 422: invalid('limit') }),
      ),
      row('status=all repeated 200 times', () => attacker.call('GET', `/api/tasks?${'status=all&'.repeat(200)}`), want(200, [own], ONE)),
      row(
        '5,000 characters of junk parameters',
        () =>
          attacker.call(
            'GET',
            `/api/tasks?${Array.from({ length: 500 }, (_, i) => `j${i}=${i}`)
              .join('&')
              .slice(0, 5000)}`,
          ),
        want(200, [own], ONE),
      ),
      row('q of 64 KiB', () => attacker.call('GET', `/api/tasks?q=${'q'.repeat(64 * 1024)}`), want(422, invalid('q'))),
      row(
        'sign-up burst from one address',
        () => burst('signup', () => ({ email: randomEmail('burst'), password: 'burst password 1' }), [201, 201, 429, 429]),
        rateLimited,
      ),
      row(
        'sign-in guessing the victim password',
        () => burst('signin', () => ({ email: victim.email, password: `guess-${crypto.randomUUID()}` }), [401, 401, 401, 429, 429]),
        rateLimited,
      ),
      row(
        'the right password from the limited address is still 429',
        () =>
          call('POST', '/api/auth/signin', {
            on: tight,
            body: { email: victim.email, password: 'correct horse battery' },
            headers: { 'x-forwarded-for': from },
          }),
        rateLimited,
      ),
      // Anonymous: 64 KiB of {"":{"":...}} 13,000 deep in a field the schema refuses. Rejecting it is cheap; it must stay cheap.
      row(
        'anonymous sign-in, 64 KiB nested 13,000 deep: answered within 500 ms',
        async () => {
          const [headers, prefix] = [{ ...JSON_TYPE, 'x-forwarded-for': randomAddress() }, '{"email":"a@b.c","password":"12345678","zz":']
          const depth = Math.floor((65536 - prefix.length - 2) / 5)
          await call('POST', '/api/auth/signin', { raw: `${prefix}{"":0}}`, headers }) // warm the route
          const started = performance.now()
          const reply = await call('POST', '/api/auth/signin', { raw: `${prefix}${'{"":'.repeat(depth)}0${'}'.repeat(depth)}}`, headers })
          elapsed = Math.round(performance.now() - started)
          return reply
        },
        (r, name) => {
          oneOf(name, r, { 422: invalid(r.body?.errors?.[0]?.field === 'body' ? 'body' : 'zz'), 400: errorBody('invalid_json') })
          expect({ name, elapsedMs: elapsed < 500 ? 'under 500' : elapsed }).toEqual({ name, elapsedMs: 'under 500' })
        },
      ),
    ]
    await run(s, rows)
    expect((await attacker.call('GET', '/api/tasks')).body).toEqual([own])
  })

  test('API5 broken function level authorization: no route acts on another account; unknown methods are refused', async () => {
    const s = await scene()
    const { victim, attacker, task } = s
    const leaver = await signedUpUser({ name: 'leaver person' })
    const rows: Row[] = [
      ...[
        'DELETE /api/auth/me/{victim}',
        'DELETE /api/{victim}/auth/me',
        'DELETE /api/users/{victim}',
        'GET /api/users',
        'GET /api/admin/users',
        'POST /api/auth/admin',
      ].map((route) => {
        const [method, path] = route.replace('{victim}', victim.id).split(' ') as [string, string]
        return row(route, () => attacker.call(method, path), want(404, errorBody('not_found')))
      }),
      row('GET /api/admin/tasks is just a user id path', () => attacker.call('GET', '/api/admin/tasks'), want(403, errorBody('forbidden'))),
      ...['PUT', 'PATCH', 'POST'].map((method) =>
        row(
          `${method} /api/auth/me`,
          () => attacker.call(method, '/api/auth/me', { body: { id: victim.id, email: victim.email } }),
          want(405, errorBody('method_not_allowed')),
        ),
      ),
      row(
        'GET /api/auth/me?id={victim}',
        () => attacker.call('GET', `/api/auth/me?id=${victim.id}&user_id=${victim.id}`),
        want(200, { id: attacker.id, email: attacker.email, name: 'attacker person', created_at: expect.any(String) }),
      ),
      row(
        'sign up again with the victim email',
        () => signUp({ email: victim.email.toUpperCase(), password: 'takeover password' }).then((x) => x.reply),
        want(400, { detail: 'Email already registered', code: 'email_taken' }),
      ),
      row('sign up with the victim id', () => signUp({ id: victim.id }).then((x) => x.reply), want(422, invalid('id'))),
      row(
        'sign in as the victim with a guess',
        () =>
          call('POST', '/api/auth/signin', {
            body: { email: victim.email, password: 'a guess 12345' },
            headers: { 'x-forwarded-for': randomAddress() },
          }),
        want(401, { detail: 'Invalid email or password', code: 'invalid_credentials' }),
      ),
      ...['TRACE', 'CONNECT'].flatMap((method) =>
        ['/api/tasks', `/api/tasks/${task.id}`, '/api/auth/me'].map((path) =>
          row(
            `${method} ${path}`,
            () => attacker.call(method, path),
            want(405, errorBody('method_not_allowed'), { allow: expect.stringMatching(new RegExp(`^(?!.*${method})`)) }),
          ),
        ),
      ),
      // A Request object turns an unknown method into GET; on the wire Bun closes the connection before the app (status 0).
      ...['FOO', 'TRACE'].map((method) =>
        row(
          `${method} over HTTP`,
          () => overSocket(`${method} /api/tasks/${task.id} HTTP/1.1\r\nAuthorization: Bearer ${attacker.token}\r\n`),
          (r, name) => (r.status === 0 ? expect(r.text).toBe('') : is(name, r, 405, errorBody('method_not_allowed'))),
        ),
      ),
      row(
        'DELETE /api/auth/me naming the victim in body and query deletes only the caller',
        () => leaver.call('DELETE', `/api/auth/me?id=${victim.id}`, { body: { id: victim.id, user_id: victim.id } }),
        (r, name) => (r.status === 422 ? is(name, r, 422, invalid('body')) : expect([name, r.status, r.text]).toEqual([name, 204, ''])),
      ),
      row(
        'DELETE /api/auth/me by the attacker',
        () => attacker.call('DELETE', '/api/auth/me'),
        (r, name) => expect([name, r.status, r.text]).toEqual([name, 204, '']),
      ),
      row('the deleted attacker has no tasks', () => attacker.call('GET', '/api/tasks'), want(200, [])),
    ]
    await run(s, rows)
  })

  test('API6/API8 misconfiguration and injection: SQL-looking input is data, sort/order are closed lists, CORS is closed', async () => {
    const s = await scene()
    const { attacker, own, task } = s
    const VALUES = [`' OR '1'='1`, `'; DROP TABLE tasks;--`, '$$', '\\', '%_', `") OR 1=1 --`]
    const stored: Record<string, unknown>[] = [own]
    const rows: Row[] = VALUES.map((value) =>
      row(
        `store ${value}`,
        () => attacker.call('POST', '/api/tasks', { body: { title: value, description: `${value} desc`, tags: [value] } }),
        (r, name) => {
          is(name, r, 201, { ...r.body, title: value, description: `${value} desc`, tags: [value], completed: false })
          stored.push(r.body)
        },
      ),
    )
    const titles = (r: Reply) => (r.body as { title: string }[]).map((t) => t.title).sort()
    const matching = (q: string) =>
      stored
        .filter((t) => `${t.title}\n${t.description ?? ''}`.toLowerCase().includes(q.toLowerCase()))
        .map((t) => t.title as string)
        .sort()
    for (const value of [...VALUES, '%', '_', `'`, '\\%']) {
      rows.push(
        row(
          `q=${value}`,
          () => attacker.call('GET', `/api/tasks?q=${encodeURIComponent(value)}`),
          (r, name) => expect([name, r.status, titles(r)]).toEqual([name, 200, matching(value)]),
        ),
      )
      if (VALUES.includes(value))
        rows.push(
          row(
            `tag=${value}`,
            () => attacker.call('GET', `/api/tasks?tag=${encodeURIComponent(value)}`),
            (r, name) => expect([name, r.status, titles(r)]).toEqual([name, 200, [value]]),
          ),
        )
      for (const field of ['status', 'priority', 'sort', 'order'])
        rows.push(
          row(
            `${field}=${value}`,
            () => attacker.call('GET', `/api/tasks?${field}=${encodeURIComponent(value)}`),
            want(422, invalid(field)),
          ),
        )
    }
    const cors = (origin: string, preflight: boolean) =>
      row(
        `${preflight ? 'preflight' : 'GET'} from Origin ${origin}`,
        () =>
          preflight
            ? call('OPTIONS', `/api/tasks/${own.id}`, {
                headers: { origin, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' },
              })
            : attacker.call('GET', `/api/tasks/${own.id}`, { headers: { origin } }),
        (r, name) =>
          expect([name, r.status, r.headers.get('access-control-allow-origin'), preflight ? r.text : r.body]).toEqual([
            name,
            preflight ? 204 : 200,
            null,
            preflight ? '' : own,
          ]),
      )
    rows.push(
      row(
        'sort=title;drop table tasks',
        () => attacker.call('GET', `/api/tasks?sort=${encodeURIComponent('title;drop table tasks')}`),
        want(422, invalid('sort')),
      ),
      row('order=asc,id', () => attacker.call('GET', '/api/tasks?order=asc,id'), want(422, invalid('order'))),
      row(
        'order=asc; delete from tasks',
        () => attacker.call('GET', `/api/tasks?sort=title&order=${encodeURIComponent('asc; delete from tasks')}`),
        want(422, invalid('order')),
      ),
      row('id "1 OR 1=1"', () => attacker.call('GET', `/api/tasks/${encodeURIComponent(`${task.id} OR 1=1`)}`), want(422, invalid('id'))),
      row(
        "user id ' OR '1'='1 in the path",
        () => attacker.call('GET', `/api/${encodeURIComponent(`' OR '1'='1`)}/tasks`),
        want(403, errorBody('forbidden')),
      ),
      row(
        'If-Match injection on the own task',
        () =>
          attacker.call('PATCH', `/api/tasks/${own.id}`, {
            body: { title: 'x' },
            headers: { 'if-match': `"${own.id}.999" OR 1=1, W/"${own.id}.999"x` },
          }),
        want(412, errorBody('precondition_failed')),
      ),
      row(
        'malformed JSON gets no stack',
        () => attacker.call('POST', '/api/tasks', { raw: `{"title": "x" --' OR 1=1`, headers: JSON_TYPE }),
        want(400, errorBody('invalid_json')),
      ),
      ...[
        'http://evil.example',
        'null',
        'http://localhost:3000.evil.example',
        'http://localhost:3000@evil.example',
        'https://localhost:3000',
      ].flatMap((o) => [cors(o, false), cors(o, true)]),
      row(
        'the allowed origin still works (control)',
        () => attacker.call('GET', '/api/tasks?limit=1', { headers: { origin: 'http://localhost:3000' } }),
        (r) => expect([r.status, r.headers.get('access-control-allow-origin')]).toEqual([200, 'http://localhost:3000']),
      ),
    )
    await run(s, rows)
    is('own task untouched', await attacker.call('GET', `/api/tasks/${own.id}`), 200, own)
  })

  test('API7 server-side request forgery: jku, x5u, jwk and URL kids are never fetched', async () => {
    const s = await scene()
    let fetched = 0
    const legit = await generateKeyPair('EdDSA', { extractable: true })
    const legitJwk = { ...(await exportJWK(legit.publicKey)), kid: 'legit', alg: 'EdDSA', use: 'sig' }
    // The attacker's server counts every request; the configured key set is served by another.
    const [evil, jwks] = [
      Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => (fetched++, Response.json({ keys: [] })) }),
      Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Response.json({ keys: [legitJwk] }) }),
    ]
    try {
      const [base, url] = [`http://127.0.0.1:${jwks.port}`, `http://127.0.0.1:${evil.port}`]
      const withJwks = await createApp({ database, config: testConfig({ BETTER_AUTH_URL: base }), logger })
      const [ed, es] = [await generateKeyPair('EdDSA', { extractable: true }), await generateKeyPair('ES256', { extractable: true })]
      const edJwk = await exportJWK(ed.publicKey)
      const claims = { sub: s.victim.id, iss: base, aud: base, iat: nowSeconds(), exp: nowSeconds() + 600 }
      const tokens: [string, Promise<string>][] = [
        ['EdDSA + jku', signJwt(claims, ed.privateKey, { alg: 'EdDSA', kid: 'evil', jku: `${url}/jwks` })],
        ['EdDSA + x5u', signJwt(claims, ed.privateKey, { alg: 'EdDSA', kid: 'evil', x5u: `${url}/cert.pem` })],
        ['EdDSA + embedded jwk', signJwt(claims, ed.privateKey, { alg: 'EdDSA', jwk: edJwk })],
        ['EdDSA + embedded jwk, legit kid', signJwt(claims, ed.privateKey, { alg: 'EdDSA', kid: 'legit', jwk: edJwk })],
        ['EdDSA, kid is a URL', signJwt(claims, ed.privateKey, { alg: 'EdDSA', kid: `${url}/key` })],
        ['ES256 + jku', signJwt(claims, es.privateKey, { alg: 'ES256', kid: 'evil', jku: `${url}/jwks` })],
        [
          'HS256 (attacker secret) + jku + x5u',
          signJwt(claims, 'attacker-secret-of-at-least-32-characters', { alg: 'HS256', jku: `${url}/jwks`, x5u: `${url}/x5u` }),
        ],
        ['EdDSA, iss is the attacker', signJwt({ ...claims, iss: url }, ed.privateKey, { alg: 'EdDSA', kid: 'evil' })],
      ]
      const rows: Row[] = []
      for (const [name, made] of tokens) {
        const token = await made
        for (const [label, on] of [
          ['HS256 only', app],
          ['with a JWKS', withJwks],
        ] as const)
          rows.push(
            row(
              `${name} (${label})`,
              () => call('GET', '/api/tasks', { token, on }),
              (r, rowName) => (
                is(rowName, r, 401, errorBody('token_invalid'), { 'www-authenticate': expect.stringMatching(/^Bearer/) }),
                expect([rowName, fetched]).toEqual([rowName, 0])
              ),
              [token],
            ),
          )
      }
      const control = await signJwt({ ...claims, sub: s.attacker.id }, legit.privateKey, { alg: 'EdDSA', kid: 'legit' })
      rows.push(
        row(
          'control: a token of the configured key set works',
          () => call('GET', '/api/tasks', { token: control, on: withJwks }),
          want(200, [s.own], ONE),
          [control],
        ),
      )
      await run(s, rows)
      expect(fetched).toBe(0)
    } finally {
      for (const server of [evil, jwks]) server.stop(true)
    }
  })

  test('API9/API10 inventory: unknown routes, versions and files are JSON 404s with no file contents', async () => {
    const s = await scene()
    const FILES = /BETTER_AUTH_SECRET|DATABASE_URL|"dependencies"|\[core\]|\bimport\s*\{|"entries"/
    const NOT_FOUND = [
      '/api/tasks.json',
      '/api/tasks/1/complete/extra',
      '/api',
      '/api/v2',
      '/.env',
      '/api/../.env',
      '/%2e%2e/.env',
      '/.env.example',
      '/package.json',
      '/.git/config',
      '/src/app.ts',
      '/drizzle/meta/_journal.json',
      '/docs/assets/..%2F..%2Fpackage.json',
      '/docs/assets/%2e%2e/%2e%2e/package.json',
      '/docs/json/../../package.json',
      '/docs/assets/swagger-ui-bundle.js/../../../.env',
      '/node_modules/swagger-ui-dist/package.json',
      '/swagger',
      '/openapi.json',
      '/metrics',
      '/admin',
    ]
    const rows: Row[] = []
    for (const [who, user] of [
      ['anonymous', undefined],
      ['attacker', s.attacker],
    ] as const) {
      for (const path of NOT_FOUND)
        rows.push(
          row(
            `${who} GET ${path}`,
            () => call('GET', path, { token: user?.token }),
            (r, name) => (is(name, r, 404, errorBody('not_found'), JSON_CT), expect([name, FILES.test(r.text)]).toEqual([name, false])),
          ),
        )
      // By the contract /api/{user_id}/tasks is a route: a "version" there is someone else's user id.
      for (const path of ['/api/v2/tasks', '/api/v1/tasks/1', '/api/latest/tasks'])
        rows.push(
          row(
            `${who} GET ${path}`,
            () => call('GET', path, { token: user?.token }),
            want(user ? 403 : 401, errorBody(user ? 'forbidden' : 'token_missing')),
          ),
        )
    }
    await run(s, rows)
  })
})
