import { describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import {
  type CallOptions,
  createTask,
  database,
  errorBody,
  expectNoLeak,
  JSON_TYPE,
  type Reply,
  signedInUser,
  type User,
  validationError,
} from './support'

/** Every response in this file: never a 5xx, never internals. */
async function send(user: User, method: string, path: string, options: Omit<CallOptions, 'token'> = {}): Promise<Reply> {
  const reply = await user.call(method, path, options)
  expect({ method, path, status: reply.status < 500 }).toEqual({ method, path, status: true })
  expectNoLeak(reply.text)
  return reply
}

/** A 422 naming the field or a path inside it, with what was sent in the diff. */
function expectInvalid(what: unknown, reply: Reply, field: string) {
  expect({ what, status: reply.status, body: reply.body }).toEqual({ what, status: 422, body: validationError(field, true) })
}

function expectError(what: unknown, reply: Reply, status: number, code: string) {
  expect({ what, status: reply.status }).toEqual({ what, status })
  expect(reply.body).toEqual(errorBody(code))
}

async function expectNoTasks(user: User) {
  const list = await send(user, 'GET', '/api/tasks')
  expect(list.status).toBe(200)
  expect(list.body).toEqual([])
}

/** Create a task and return a check that it is still exactly as it was (body and ETag). */
async function fixture(user: User) {
  const task = await createTask(user, { title: 'Original', description: 'as created', tags: ['keep'], due_date: '2030-01-01T00:00:00Z' })
  const before = await send(user, 'GET', `/api/tasks/${task.id}`)
  return {
    id: task.id,
    unchanged: async () => {
      const now = await send(user, 'GET', `/api/tasks/${task.id}`)
      expect({ body: now.body, etag: now.headers.get('etag') }).toEqual({ body: before.body, etag: before.headers.get('etag') })
    },
  }
}

const WRONG_TYPES: [string, unknown][] = [
  ['title', 42],
  ['title', ['a']],
  ['title', { text: 'a' }],
  ['title', null],
  ['description', 42],
  ['description', false],
  ['completed', 'true'],
  ['completed', 1],
  ['priority', 'urgent'],
  ['priority', 1],
  ['priority', 'HIGH'],
  ['due_date', 'tomorrow'],
  ['due_date', '2026-02-30T00:00:00Z'],
  ['due_date', '2026-02-30'],
  ['due_date', '2026-1-1'],
  ['due_date', '0000-12-31'],
  ['due_date', '2026-01-01T10:00'],
  ['due_date', '2026-01-01T25:00:00Z'],
  ['due_date', 1767225600000],
  ['tags', 'a'],
  ['tags', [1]],
  ['tags', Array.from({ length: 21 }, (_, i) => `t${i}`)],
  ['tags', ['dup', 'dup']],
  ['tags', ['x'.repeat(41)]],
  ['tags', ['']],
]
const UNKNOWN_FIELDS = ['user_id', 'id', 'created_at', 'updated_at', 'owner', '__proto__', 'constructor']

describe('wrong types and unknown fields', () => {
  test('on create: 422 naming the field, nothing stored', async () => {
    const user = await signedInUser()
    for (const [field, value] of WRONG_TYPES)
      expectInvalid([field, value], await send(user, 'POST', '/api/tasks', { body: { title: 'ok', [field]: value } }), field)
    for (const field of UNKNOWN_FIELDS) {
      // Raw text: JSON.parse makes "__proto__" an own property, as a hostile client's body would.
      const raw = `{"title":"ok","${field}":{"user_id":"victim","prototype":{"polluted":true}}}`
      expectInvalid(field, await send(user, 'POST', '/api/tasks', { raw, headers: JSON_TYPE }), field)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    await expectNoTasks(user)
  })

  for (const method of ['PUT', 'PATCH'])
    test(`on ${method}: 422 naming the field, the task unchanged`, async () => {
      const user = await signedInUser()
      const task = await fixture(user)
      for (const [field, value] of WRONG_TYPES)
        expectInvalid([field, value], await send(user, method, `/api/tasks/${task.id}`, { body: { [field]: value } }), field)
      for (const field of UNKNOWN_FIELDS) {
        const raw = `{"title":"changed","${field}":"victim"}`
        expectInvalid(field, await send(user, method, `/api/tasks/${task.id}`, { raw, headers: JSON_TYPE }), field)
      }
      await task.unchanged()
    })
})

describe('lengths', () => {
  const a = (n: number, c = 'a') => c.repeat(n)
  const CASES: [string, Record<string, unknown>, Record<string, unknown> | string][] = [
    ['title of 201', { title: a(201) }, 'title'],
    ['title of 60000', { title: a(60000) }, 'title'],
    ['title of 200', { title: a(200) }, { title: a(200) }],
    ['title of 200 padded with spaces', { title: `   ${a(200, 'b')}\t\n ` }, { title: a(200, 'b') }],
    ['description of 2001', { title: 't', description: a(2001) }, 'description'],
    ['description of 2000', { title: 't', description: a(2000) }, { description: a(2000) }],
    // The contract counts characters, not UTF-16 code units (as JSON Schema's maxLength does).
    ['title of 200 emoji', { title: a(200, '😀') }, { title: a(200, '😀') }],
    ['title of 201 emoji', { title: a(201, '😀') }, 'title'],
    ['tag of 40 four-byte characters', { title: 't', tags: [a(40, '𝄞')] }, { tags: [a(40, '𝄞')] }],
  ]
  for (const [name, body, outcome] of CASES)
    test(`${name}: ${typeof outcome === 'string' ? '422' : 'accepted'} on create and on PATCH`, async () => {
      const user = await signedInUser()
      const created = await send(user, 'POST', '/api/tasks', { body })
      if (typeof outcome === 'string') {
        expectInvalid(name, created, outcome)
        await expectNoTasks(user)
        const task = await fixture(user)
        expectInvalid(name, await send(user, 'PATCH', `/api/tasks/${task.id}`, { body }), outcome)
        return task.unchanged()
      }
      expect({ name, status: created.status }).toEqual({ name, status: 201 })
      expect(created.body).toMatchObject(outcome)
      const patched = await send(user, 'PATCH', `/api/tasks/${(await createTask(user)).id}`, { body })
      expect({ name, status: patched.status }).toEqual({ name, status: 200 })
      expect(patched.body).toMatchObject(outcome)
    })
})

describe('text is stored verbatim', () => {
  const TEXTS = [
    `'; DROP TABLE tasks; --`,
    `" OR 1=1 --`,
    '$1',
    '\\x00',
    '%_',
    'NULL',
    '{a,"b"}',
    'back\\slash',
    `Robert'); DELETE FROM task_quotas; --`,
  ]
  const UNICODE = [
    '👩‍💻 ship it 🚀',
    'مرحبا بالعالم',
    'שלום \u202Ereversed\u202C',
    'Cafe\u0301 vs Caf\u00e9',
    '買い物 买东西 장보기',
    '𝄞😀',
  ]

  test('SQL-looking text and unicode round-trip in title, description and tags', async () => {
    const user = await signedInUser()
    const ids: number[] = []
    for (const text of [...TEXTS, ...UNICODE]) {
      const body = { title: text, description: `${text}\n${text}`, tags: [text, '😀'] }
      const created = await send(user, 'POST', '/api/tasks', { body })
      expect({ text, status: created.status }).toEqual({ text, status: 201 })
      expect(created.body).toMatchObject(body)
      const fetched = await send(user, 'GET', `/api/tasks/${created.body.id}`)
      expect(fetched.body).toEqual(created.body)
      ids.push(created.body.id)
    }
    const list = await send(user, 'GET', '/api/tasks?limit=1000&sort=created_at&order=asc')
    expect(list.body.map((t: { title: string }) => t.title)).toEqual([...TEXTS, ...UNICODE])
    expect(list.body.map((t: { id: number }) => t.id)).toEqual(ids)
    // LIKE wildcards are searched for literally; a 4-byte tag filters exactly.
    const search = await send(user, 'GET', `/api/tasks?q=${encodeURIComponent('%_')}`)
    expect(search.body.map((t: { title: string }) => t.title)).toEqual(['%_'])
    const tagged = await send(user, 'GET', `/api/tasks?tag=${encodeURIComponent('𝄞😀')}`)
    expect(tagged.body.map((t: { title: string }) => t.title)).toEqual(['𝄞😀'])
    const combining = await send(user, 'GET', `/api/tasks?q=${encodeURIComponent('Cafe\u0301')}`)
    expect(combining.body.length).toBe(1)
    expect(Number(list.headers.get('x-total-count'))).toBe(TEXTS.length + UNICODE.length)
  })

  test('NUL and lone surrogates are 422 on create and update, nothing stored', async () => {
    const user = await signedInUser()
    const nul: [string, Record<string, unknown>][] = [
      ['title', { title: 'a\u0000b' }],
      ['description', { title: 't', description: 'x\u0000' }],
      ['tags', { title: 't', tags: ['ok', 'a\u0000'] }],
    ]
    const surrogate: [string, string][] = [
      ['title', '{"title":"\\ud800"}'],
      ['title', '{"title":"a\\udc00b"}'],
      ['title', '{"title":"\\udc00\\ud800"}'],
      ['description', '{"title":"t","description":"\\ud83d"}'],
      ['tags', '{"title":"t","tags":["\\ude00"]}'],
    ]
    const cases = [
      ...nul.map(([f, body]) => [f, { body }] as const),
      ...surrogate.map(([f, raw]) => [f, { raw, headers: JSON_TYPE }] as const),
    ]
    for (const [field, options] of cases) expectInvalid([field, options], await send(user, 'POST', '/api/tasks', options), field)
    await expectNoTasks(user)
    const task = await fixture(user)
    for (const [field, options] of cases)
      for (const method of ['PUT', 'PATCH'])
        expectInvalid([method, field, options], await send(user, method, `/api/tasks/${task.id}`, options), field)
    await task.unchanged()
  })
})

describe('bodies that are not a JSON object', () => {
  test('non-object JSON is 422, malformed JSON 400, non-JSON 415, on create and update', async () => {
    const user = await signedInUser()
    const task = await fixture(user)
    for (const path of ['/api/tasks', `/api/tasks/${task.id}`]) {
      const method = path === '/api/tasks' ? 'POST' : 'PATCH'
      for (const raw of ['[]', '[{"title":"x"}]', '"x"', '1', 'null', 'true'])
        expectInvalid(raw, await send(user, method, path, { raw, headers: JSON_TYPE }), 'body')
      for (const raw of ['{', '{"title": "x",}', "{'title': 'x'}", '{"title": "x"} {}', '{"title": "x"', 'NaN', '{title: "x"}'])
        expectError(raw, await send(user, method, path, { raw, headers: JSON_TYPE }), 400, 'invalid_json')
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
        const headers: Record<string, string> = type ? { 'content-type': type } : {}
        const raw = new TextEncoder().encode('{"title":"x"}') // no Content-Type unless one is given
        expectError(type, await send(user, method, path, { raw, headers }), 415, 'unsupported_media_type')
      }
    }
    await task.unchanged()
    expect((await send(user, 'GET', '/api/tasks')).body.length).toBe(1)
    for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
      const ok = await send(user, 'POST', '/api/tasks', { raw: '{"title":"typed"}', headers: { 'content-type': type } })
      expect({ type, status: ok.status, title: ok.body?.title }).toEqual({ type, status: 201, title: 'typed' })
    }
  })

  test('a body over 64 KiB is 413; exactly 64 KiB is accepted', async () => {
    const user = await signedInUser()
    const sized = (bytes: number) => `{"title":"big"}${' '.repeat(bytes - 15)}`
    const exact = await send(user, 'POST', '/api/tasks', { raw: sized(65536), headers: { ...JSON_TYPE, 'content-length': '65536' } })
    expect(exact.status).toBe(201)
    expect(exact.body.title).toBe('big')
    const over = sized(65537)
    for (const [method, path] of [
      ['POST', '/api/tasks'],
      ['PUT', `/api/tasks/${exact.body.id}`],
      ['PATCH', `/api/tasks/${exact.body.id}`],
    ]) {
      expectError(
        method,
        await send(user, method!, path!, { raw: over, headers: { ...JSON_TYPE, 'content-length': String(over.length) } }),
        413,
        'payload_too_large',
      )
      // Streamed without a Content-Length: counted while read.
      const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(over)), c.close()) })
      expectError(`${method} streamed`, await send(user, method!, path!, { raw: stream, headers: JSON_TYPE }), 413, 'payload_too_large')
    }
    const list = await send(user, 'GET', '/api/tasks')
    expect(list.body).toEqual([exact.body])
  })
})

describe('edges found in review', () => {
  test('a due date whose offset carries it out of years 0001-9999 is 422, not 500', async () => {
    const user = await signedInUser()
    for (const due_date of ['9999-12-31T23:00:00-05:00', '0001-01-01T00:30:00+01:00']) {
      expectInvalid(due_date, await send(user, 'POST', '/api/tasks', { body: { title: 't', due_date } }), 'due_date')
    }
    const edge = await send(user, 'POST', '/api/tasks', { body: { title: 't', due_date: '9999-12-31T23:59:59.999Z' } })
    expect(edge.status).toBe(201)
    expect(edge.body.due_date).toBe('9999-12-31T23:59:59.999Z')
  })

  test('invalid UTF-8 bytes are 400, never stored as replacement characters', async () => {
    const user = await signedInUser()
    const raw = new Uint8Array([...new TextEncoder().encode('{"title":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}')])
    expectError('bad utf-8', await send(user, 'POST', '/api/tasks', { raw, headers: JSON_TYPE }), 400, 'invalid_json')
    await expectNoTasks(user)
  })

  test('a NUL in a query parameter is named as such', async () => {
    const user = await signedInUser()
    const reply = await send(user, 'GET', '/api/tasks?q=a%00b')
    expectInvalid('q with NUL', reply, 'q')
    expect(reply.body.errors).toEqual([{ field: 'q', message: 'must not contain NUL characters or unpaired surrogates' }])
  })
})

describe('the per-user limit of 10,000 tasks', () => {
  async function seed(user: User, count: number) {
    // One task through the API makes the default list; the rest go in it directly, after it
    // (valid fractional-indexing keys: a fraction never ends in 0).
    const first = await send(user, 'POST', '/api/tasks', { body: { title: 'seeded 0' } })
    expect(first.status).toBe(201)
    await database.db.execute(
      sql`insert into tasks (user_id, title, list_id, position)
        select ${user.id}, 'seeded ' || n, l.id, 'b' || lpad(n::text, 5, '0') || '1'
        from generate_series(1, ${count - 1}::int) as n, lists l where l.user_id = ${user.id} and l.is_default`,
    )
    await database.db.execute(
      sql`insert into task_quotas (user_id, task_count) values (${user.id}, ${count}) on conflict (user_id) do update set task_count = excluded.task_count`,
    )
  }
  const total = async (user: User) => Number((await send(user, 'GET', '/api/tasks?limit=1')).headers.get('x-total-count'))

  test('the 10,000th create succeeds, the next is 409, a delete frees a slot', async () => {
    const user = await signedInUser()
    await seed(user, 9999)
    const last = await send(user, 'POST', '/api/tasks', { body: { title: 'number 10000' } })
    expect(last.status).toBe(201)
    expect(last.body.title).toBe('number 10000')
    const refused = await send(user, 'POST', '/api/tasks', { body: { title: 'one too many' } })
    expectError('over', refused, 409, 'task_limit_reached')
    expect(await total(user)).toBe(10000)
    expect((await send(user, 'DELETE', `/api/tasks/${last.body.id}`)).status).toBe(204)
    const again = await send(user, 'POST', '/api/tasks', { body: { title: 'fits again' } })
    expect(again.status).toBe(201)
    expect(again.body.title).toBe('fits again')
    expectError('over again', await send(user, 'POST', '/api/tasks', { body: { title: 'no' } }), 409, 'task_limit_reached')
    expect(await total(user)).toBe(10000)
    // Another user is not affected.
    expect((await send(await signedInUser(), 'POST', '/api/tasks', { body: { title: 'free' } })).status).toBe(201)
  })

  test('20 concurrent creates with 10 slots left: exactly 10 succeed', async () => {
    const user = await signedInUser()
    await seed(user, 9990)
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(user, 'POST', '/api/tasks', { body: { title: `racer ${i}` } })),
    )
    expect(replies.map((r) => r.status).sort()).toEqual([...Array(10).fill(201), ...Array(10).fill(409)])
    for (const reply of replies)
      if (reply.status === 409) expect(reply.body).toEqual(errorBody('task_limit_reached'))
      else expect(reply.body.title).toStartWith('racer ')
    expect(await total(user)).toBe(10000)
  })
})
