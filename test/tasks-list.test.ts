import { describe, expect, test } from 'bun:test'
import { createTask, expectNoLeak, parseLinks, type Reply, signedInUser, type User, validationError } from './support'

type Task = Awaited<ReturnType<typeof createTask>>

/** Creates the tasks one after another (ids, and created_at, follow this order). */
async function createAll(user: User, bodies: Record<string, unknown>[]): Promise<Task[]> {
  const created: Task[] = []
  for (const body of bodies) created.push(await createTask(user, body))
  return created
}

const titles = (body: Task[]) => body.map((task) => task.title)

test('an empty list is [] with X-Total-Count 0 and no Link', async () => {
  const user = await signedInUser()
  const reply = await user.call('GET', '/api/tasks?limit=10&offset=0')
  expect(reply.status).toBe(200)
  expect(reply.body).toEqual([])
  expect(reply.headers.get('x-total-count')).toBe('0')
  expect(reply.headers.get('link')).toBeNull()
})

test('the list is application/json and each item is exactly the JSON of GET /api/tasks/{id}, whatever the text holds', async () => {
  // Quotes, backslashes, control characters, non-ASCII and astral characters
  // come out of the list as JSON.stringify writes them, and as the task alone reads.
  const user = await signedInUser()
  const awkward = ['quote " and \\ back', 'tab\tnew\nline\u0001\u001f end', 'ñandú 用户 😀 \u2028 mid', '</script><b>&amp;']
  const made = await createAll(
    user,
    awkward.map((title, i) => ({
      title,
      description: `d${title}`,
      tags: [title, 'plain'],
      priority: 'high',
      due_date: `2030-01-0${i + 1}T10:00:00.5Z`,
    })),
  )
  await createTask(user, { title: 'bare' })
  const reply = await user.call('GET', '/api/tasks?sort=title&order=asc')
  expect(reply.status).toBe(200)
  expect(reply.headers.get('content-type')).toBe('application/json;charset=utf-8')
  expect(reply.text).toBe(JSON.stringify(reply.body))
  expect(titles(reply.body)).toEqual([
    '</script><b>&amp;',
    'bare',
    'quote " and \\ back',
    'tab\tnew\nline\u0001\u001f end',
    'ñandú 用户 😀 \u2028 mid',
  ])
  for (const task of made) {
    const one = await user.call('GET', `/api/tasks/${task.id}`)
    expect(reply.text).toContain(one.text)
    expect(reply.body.find((listed: Task) => listed.id === task.id)).toEqual(one.body)
  }
})

describe('sorting', () => {
  test('default is created_at desc (ties by id desc); order=asc reverses it', async () => {
    const user = await signedInUser()
    const ids = (await createAll(user, [{ title: 'one' }, { title: 'two' }, { title: 'three' }])).map((task) => task.id)
    for (const [query, expected] of [
      ['', ids.toReversed()],
      ['?sort=created_at', ids.toReversed()],
      ['?order=desc', ids.toReversed()],
      ['?order=asc', ids],
      ['?sort=created_at&order=asc', ids],
    ] as const) {
      const reply = await user.call('GET', `/api/tasks${query}`)
      expect(reply.status).toBe(200)
      expect(reply.body.map((task: Task) => task.id)).toEqual(expected)
    }
  })

  test('sort=updated_at follows the last change, ties by id', async () => {
    const user = await signedInUser()
    const [first, ...rest] = await createAll(user, [{ title: 'a' }, { title: 'b' }, { title: 'c' }])
    const patched = await user.call('PATCH', `/api/tasks/${first!.id}`, { body: { title: 'a, edited' } })
    expect(patched.status).toBe(200)
    // Expected order from the timestamps the service reported: no sleeping, no assumption about the clock.
    const key = (task: Task) => `${task.updated_at}|${String(task.id).padStart(10, '0')}`
    const ascending = [patched.body as Task, ...rest].sort((x, y) => (key(x) < key(y) ? -1 : 1))
    const desc = await user.call('GET', '/api/tasks?sort=updated_at')
    expect(desc.status).toBe(200)
    expect(desc.body).toEqual(ascending.toReversed())
    const asc = await user.call('GET', '/api/tasks?sort=updated_at&order=asc')
    expect(asc.status).toBe(200)
    expect(asc.body).toEqual(ascending)
  })

  const cases: { sort: string; tasks: Record<string, unknown>[]; desc: string[]; asc: string[] }[] = [
    {
      // Tasks without a due date come last in both directions.
      sort: 'due_date',
      tasks: [
        { title: 'none 1' },
        { title: 'feb', due_date: '2030-02-01T00:00:00Z' },
        { title: 'jan', due_date: '2030-01-01T00:00:00Z' },
        { title: 'none 2' },
        { title: 'mar', due_date: '2030-03-01T00:00:00Z' },
        { title: 'first', due_date: '0001-01-01T00:30:00+00:15' },
        { title: 'last', due_date: '9999-12-31T23:59:59.999Z' },
      ],
      desc: ['last', 'mar', 'feb', 'jan', 'first', 'none 2', 'none 1'],
      asc: ['first', 'jan', 'feb', 'mar', 'last', 'none 1', 'none 2'],
    },
    {
      // low < medium < high, not alphabetical.
      sort: 'priority',
      tasks: [
        { title: 'm', priority: 'medium' },
        { title: 'h', priority: 'high' },
        { title: 'l', priority: 'low' },
      ],
      desc: ['h', 'm', 'l'],
      asc: ['l', 'm', 'h'],
    },
    {
      // Case-insensitive: a byte-order sort would put capitals first.
      sort: 'title',
      tasks: [{ title: 'banana' }, { title: 'Zebra' }, { title: 'apple' }, { title: 'Cherry' }],
      desc: ['Zebra', 'Cherry', 'banana', 'apple'],
      asc: ['apple', 'banana', 'Cherry', 'Zebra'],
    },
  ]
  for (const { sort, tasks, desc, asc } of cases) {
    test(`sort=${sort}, desc by default and with order=asc`, async () => {
      const user = await signedInUser()
      await createAll(user, tasks)
      for (const [query, expected] of [
        [`sort=${sort}`, desc],
        [`sort=${sort}&order=desc`, desc],
        [`sort=${sort}&order=asc`, asc],
      ] as const) {
        const reply = await user.call('GET', `/api/tasks?${query}`)
        expect(reply.status).toBe(200)
        expect(titles(reply.body)).toEqual(expected)
        expect(reply.headers.get('x-total-count')).toBe(String(tasks.length))
      }
    })
  }
})

describe('filters', () => {
  // Indices into FIXTURE; completed ones are marked done after creation.
  const FIXTURE = [
    { title: 'Buy milk', description: 'From the 24h shop', priority: 'low', tags: ['home', 'errand'] },
    { title: 'Write REPORT', priority: 'high', tags: ['work'], done: true },
    { title: 'Plan workout', description: 'Gym: legs', tags: ['workout'] },
    { title: 'Call mom', description: 'About the report', priority: 'high', tags: ['home', 'Work'] },
    { title: '100% done', done: true },
    { title: 'snake_case naming', description: 'path C:\\temp', priority: 'low' },
    { title: 'snakeXcase', description: '100 percent, C:temp' },
  ]
  const everything = FIXTURE.map((_, i) => i)

  const cases: [query: string, expected: number[]][] = [
    ['status=all', everything],
    ['status=pending', [0, 2, 3, 5, 6]],
    ['status=completed', [1, 4]],
    ['priority=high', [1, 3]],
    ['priority=low', [0, 5]],
    ['priority=medium', [2, 4, 6]],
    ['tag=home', [0, 3]],
    ['tag=work', [1]] /* not "workout", not "Work" */,
    ['tag=nothing', []],
    ['q=report', [1, 3]] /* title or description, any case */,
    ['q=MILK', [0]],
    ['q=gym', [2]],
    ['q=zzz', []],
    // "%", "_" and "\" are matched literally, not as LIKE wildcards or escapes.
    ['q=%25', [4]],
    ['q=0%25%20d', [4]],
    ['q=_', [5]],
    ['q=e_c', [5]],
    ['q=%5C', [5]],
    ['q=C%3A%5Ct', [5]],
    ['status=pending&priority=high', [3]],
    ['status=completed&q=report', [1]],
    ['tag=home&q=mom', [3]],
    ['status=pending&priority=low&tag=home&q=milk', [0]],
    ['status=completed&tag=home', []],
  ]

  for (const [query, expected] of cases) {
    test(`${decodeURIComponent(query)} → ${expected.length ? expected.join(',') : 'none'}`, async () => {
      const user = await signedInUser()
      const created = await createAll(
        user,
        FIXTURE.map(({ done: _, ...body }) => body),
      )
      for (const [i, spec] of FIXTURE.entries())
        if (spec.done) expect((await user.call('PATCH', `/api/tasks/${created[i]!.id}/complete`)).status).toBe(200)
      const reply = await user.call('GET', `/api/tasks?${query}`)
      expect(reply.status).toBe(200)
      expect(titles(reply.body)).toEqual(expected.map((i) => FIXTURE[i]!.title).toReversed())
      expect(reply.headers.get('x-total-count')).toBe(String(expected.length))
      expect(reply.headers.get('link')).toBeNull()
    })
  }
})

describe('paging', () => {
  // Five pending tasks (and one completed, which status=pending leaves out of the count), listed by title.
  const base = '/api/tasks?status=pending&sort=title&order=asc'
  const keep = { status: 'pending', sort: 'title', order: 'asc' }
  const pages: [query: string, expected: string[], next?: string, prev?: string][] = [
    ['&limit=2', ['t1', 't2'], '2'],
    ['&limit=2&offset=2', ['t3', 't4'], '4', '0'],
    ['&offset=4&limit=2', ['t5'], undefined, '2'],
    ['&limit=2&offset=1', ['t2', 't3'], '3', '0'],
    ['&limit=5', ['t1', 't2', 't3', 't4', 't5']],
  ]
  for (const [query, expected, next, prev] of pages) {
    test(`${query.slice(1)}: page, X-Total-Count and Link keeping the other parameters`, async () => {
      const user = await signedInUser()
      await createAll(
        user,
        ['t4', 't1', 't5', 't3', 't2'].map((title) => ({ title })),
      )
      const done = await createTask(user, { title: 't0' })
      expect((await user.call('PATCH', `/api/tasks/${done.id}/complete`)).status).toBe(200)
      const reply = await user.call('GET', base + query)
      expect(reply.status).toBe(200)
      expect(titles(reply.body)).toEqual(expected)
      expect(reply.headers.get('x-total-count')).toBe('5')
      const limit = new URLSearchParams(query).get('limit')!
      const expectedLinks: ReturnType<typeof parseLinks> = {}
      if (next) expectedLinks.next = { path: '/api/tasks', query: { ...keep, limit, offset: next } }
      if (prev) expectedLinks.prev = { path: '/api/tasks', query: { ...keep, limit, offset: prev } }
      expect(parseLinks(reply.headers.get('link'))).toEqual(expectedLinks)
      if (!next && !prev) expect(reply.headers.get('link')).toBeNull()
    })
  }

  test('following rel="next" walks every task once', async () => {
    const user = await signedInUser()
    await createAll(
      user,
      ['a', 'b', 'c', 'd', 'e'].map((title) => ({ title })),
    )
    const seen: string[] = []
    let target: string | undefined = '/api/tasks?sort=title&order=asc&limit=2'
    while (target) {
      const reply: Reply<Task[]> = await user.call('GET', target)
      expect(reply.status).toBe(200)
      seen.push(...titles(reply.body))
      target = /<([^>]+)>; *rel="next"/.exec(reply.headers.get('link') ?? '')?.[1]
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  test('the default limit is 100', async () => {
    const user = await signedInUser()
    await Promise.all(Array.from({ length: 101 }, (_, i) => createTask(user, { title: `task ${i}` })))
    const reply = await user.call('GET', '/api/tasks')
    expect(reply.status).toBe(200)
    expect(reply.body).toHaveLength(100)
    expect(reply.headers.get('x-total-count')).toBe('101')
    expect(parseLinks(reply.headers.get('link'))).toEqual({ next: { path: '/api/tasks', query: { limit: '100', offset: '100' } } })
  })

  for (const query of ['offset=3', 'offset=50&limit=10', 'offset=2147483647']) {
    test(`paging past the end (${query}) is [] with the full count`, async () => {
      const user = await signedInUser()
      await createAll(user, [{ title: 'x' }, { title: 'y' }, { title: 'z' }])
      const reply = await user.call('GET', `/api/tasks?${query}`)
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual([])
      expect(reply.headers.get('x-total-count')).toBe('3')
      expect(parseLinks(reply.headers.get('link')).next).toBeUndefined()
    })
  }
})

describe('validation', () => {
  const invalid: [query: string, field: string][] = [
    ['status=foo', 'status'],
    ['priority=urgent', 'priority'],
    ['sort=bogus', 'sort'],
    ['order=up', 'order'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=0x10', 'limit'],
    ['offset=-1', 'offset'],
    ['tag=', 'tag'],
    [`tag=${'t'.repeat(41)}`, 'tag'],
    [`q=${'q'.repeat(201)}`, 'q'],
    ['q=a%00b', 'q'],
  ]
  for (const [query, field] of invalid) {
    test(`${query.length > 30 ? `${query.slice(0, 12)}… (${query.length - field.length - 1} chars)` : query} is 422 naming ${field}`, async () => {
      const user = await signedInUser()
      const reply = await user.call('GET', `/api/tasks?${query}`)
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError(field))
      expectNoLeak(reply.text)
    })
  }

  test('unknown query parameters are ignored', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'kept' })
    const reply = await user.call('GET', '/api/tasks?_=1700000000&utm_source=mail&foo[bar]=1')
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual([task])
    expect(reply.headers.get('x-total-count')).toBe('1')
  })
})

test("another user's tasks never appear in the list or the count", async () => {
  const [me, other] = [await signedInUser('me'), await signedInUser('other')]
  const mine = await createAll(me, [
    { title: 'mine 1', tags: ['shared'] },
    { title: 'mine 2', tags: ['shared'] },
  ])
  await createAll(other, [{ title: 'theirs 1', tags: ['shared'] }, { title: 'theirs 2' }, { title: 'theirs 3' }])
  for (const [query, expected] of [
    ['', mine.toReversed()],
    ['?tag=shared&status=all', mine.toReversed()],
    ['?q=theirs', []],
    ['?limit=1&offset=1', [mine[0]]],
  ] as const) {
    const reply = await me.call('GET', `/api/tasks${query}`)
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual(expected)
    expect(reply.headers.get('x-total-count')).toBe(query === '?q=theirs' ? '0' : '2')
  }
})
