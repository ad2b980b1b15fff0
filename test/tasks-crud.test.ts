import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { taskQuotas } from '../src/db/schema'
import { call, createTask, database, expectUnauthenticated, signedInUser } from './support'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

describe('POST /api/tasks', () => {
  test('creates a task with defaults, Location and ETag', async () => {
    const user = await signedInUser()
    const reply = await user.call('POST', '/api/tasks', { body: { title: '  Buy milk  ' } })
    expect(reply.status).toBe(201)
    expect(reply.body).toEqual({
      id: expect.any(Number),
      list_id: expect.any(Number),
      parent_id: null,
      position: 'a0',
      title: 'Buy milk',
      description: null,
      completed: false,
      priority: 'medium',
      due_date: null,
      tags: [],
      recurrence: null,
      reminders: [],
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    })
    expect(reply.body.created_at).toBe(reply.body.updated_at)
    expect(reply.headers.get('location')).toBe(`/api/tasks/${reply.body.id}`)
    expect(reply.headers.get('etag')).toMatch(/^"\d+\.\d+"$/)
    const fetched = await user.call('GET', reply.headers.get('location')!)
    expect(fetched.status).toBe(200)
    expect(fetched.body).toEqual(reply.body)
    expect(fetched.headers.get('etag')).toBe(reply.headers.get('etag'))
  })

  test('stores every field as sent, due_date normalised to UTC', async () => {
    const user = await signedInUser()
    const reply = await user.call('POST', '/api/tasks', {
      body: {
        title: 'Report',
        description: 'Q3 numbers',
        priority: 'high',
        due_date: '2026-03-01T09:30:00+02:00',
        tags: ['work', 'urgent'],
      },
    })
    expect(reply.status).toBe(201)
    expect(reply.body).toMatchObject({
      title: 'Report',
      description: 'Q3 numbers',
      priority: 'high',
      due_date: '2026-03-01T07:30:00.000Z',
      tags: ['work', 'urgent'],
      completed: false,
    })
  })

  test('missing title is 422 with the field named', async () => {
    const user = await signedInUser()
    const reply = await user.call('POST', '/api/tasks', { body: { description: 'no title' } })
    expect(reply.status).toBe(422)
    expect(reply.body.code).toBe('validation_error')
    expect(reply.body.errors).toContainEqual({ field: 'title', message: 'is required' })
    expect(reply.body.detail).toContain('title')
  })

  test('no body at all is 422 naming the body, and nothing is stored; on update and sign-up too', async () => {
    const user = await signedInUser()
    const own = await createTask(user, { title: 'Kept' })
    const required = {
      detail: 'body: is required (a JSON object)',
      code: 'validation_error',
      errors: [{ field: 'body', message: 'is required (a JSON object)' }],
    }
    for (const [method, path, raw] of [
      ['POST', '/api/tasks', undefined],
      ['POST', '/api/tasks', ''],
      ['PUT', `/api/tasks/${own.id}`, undefined],
      ['PATCH', `/api/tasks/${own.id}`, ''],
    ] as const) {
      const reply = await user.call(method, path, { raw, headers: raw === '' ? { 'content-type': 'application/json' } : {} })
      expect([method, path, raw, reply.status, reply.body]).toEqual([method, path, raw, 422, required])
    }
    const signup = await call('POST', '/api/auth/signup')
    expect([signup.status, signup.body]).toEqual([422, required])
    const listed = await user.call('GET', '/api/tasks')
    expect(listed.body.map((task: { title: string }) => task.title)).toEqual(['Kept'])
  })

  test('a blank title is 422 after trimming', async () => {
    const user = await signedInUser()
    const reply = await user.call('POST', '/api/tasks', { body: { title: '   ' } })
    expect(reply.status).toBe(422)
    expect(reply.body.errors[0].field).toBe('title')
  })

  test('a client cannot set id, user_id, created_at, updated_at or completed on create', async () => {
    const user = await signedInUser()
    for (const field of ['id', 'user_id', 'created_at', 'updated_at', 'completed', 'version']) {
      const reply = await user.call('POST', '/api/tasks', { body: { title: 'x', [field]: field === 'completed' ? true : 1 } })
      expect(reply.status).toBe(422)
      expect(reply.body.errors).toContainEqual({ field, message: 'is not an accepted field' })
    }
    const list = await user.call('GET', '/api/tasks')
    expect(list.body).toEqual([])
  })
})

describe('GET /api/tasks/{id}', () => {
  test('unknown id is 404', async () => {
    const user = await signedInUser()
    const reply = await user.call('GET', '/api/tasks/2147483000')
    expect(reply.status).toBe(404)
    expect(reply.body).toEqual({ detail: 'Task not found', code: 'task_not_found' })
  })
})

describe('PUT and PATCH /api/tasks/{id}', () => {
  for (const method of ['PUT', 'PATCH']) {
    test(`${method} changes only the fields sent and moves updated_at and the ETag`, async () => {
      const user = await signedInUser()
      const task = await createTask(user, { title: 'Old', description: 'keep me', tags: ['a'] })
      const before = await user.call('GET', `/api/tasks/${task.id}`)
      const reply = await user.call(method, `/api/tasks/${task.id}`, { body: { title: 'New', completed: true, priority: 'low' } })
      expect(reply.status).toBe(200)
      expect(reply.body).toMatchObject({ id: task.id, title: 'New', description: 'keep me', completed: true, priority: 'low', tags: ['a'] })
      expect(reply.body.created_at).toBe(task.created_at as string)
      expect(reply.body.updated_at >= (task.updated_at as string)).toBe(true)
      expect(reply.headers.get('etag')).not.toBe(before.headers.get('etag'))
    })
  }

  test('null clears description and due_date', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { description: 'd', due_date: '2030-01-01T00:00:00Z' })
    const reply = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { description: null, due_date: null } })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ description: null, due_date: null })
  })

  test('an empty body is 422 and changes nothing', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    const reply = await user.call('PATCH', `/api/tasks/${task.id}`, { body: {} })
    expect(reply.status).toBe(422)
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body).toEqual(task)
  })

  test('writing the same values again keeps the ETag and updated_at', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'Same' })
    const first = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'Same', priority: 'medium' } })
    expect(first.status).toBe(200)
    expect(first.body).toEqual(task)
  })
})

describe('If-Match', () => {
  test('a stale ETag is 412 and nothing changes; the current one succeeds; * always matches', async () => {
    const user = await signedInUser()
    const created = await user.call('POST', '/api/tasks', { body: { title: 'v1' } })
    const staleTag = created.headers.get('etag')!
    const second = await user.call('PATCH', `/api/tasks/${created.body.id}`, { body: { title: 'v2' }, headers: { 'if-match': staleTag } })
    expect(second.status).toBe(200)
    const stale = await user.call('PATCH', `/api/tasks/${created.body.id}`, { body: { title: 'v3' }, headers: { 'if-match': staleTag } })
    expect(stale.status).toBe(412)
    expect(stale.body.code).toBe('precondition_failed')
    expect((await user.call('GET', `/api/tasks/${created.body.id}`)).body.title).toBe('v2')
    const weak = await user.call('PUT', `/api/tasks/${created.body.id}`, {
      body: { title: 'weak' },
      headers: { 'if-match': `W/${second.headers.get('etag')}` },
    })
    expect(weak.status).toBe(412)
    const staleToggle = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, { headers: { 'if-match': staleTag } })
    expect(staleToggle.status).toBe(412)
    expect((await user.call('GET', `/api/tasks/${created.body.id}`)).body.completed).toBe(false)
    const toggle = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, {
      headers: { 'if-match': second.headers.get('etag')! },
    })
    expect(toggle.status).toBe(200)
    expect(toggle.body.completed).toBe(true)
    const any = await user.call('PATCH', `/api/tasks/${created.body.id}/complete`, { headers: { 'if-match': '*' } })
    expect(any.status).toBe(200)
    const staleDelete = await user.call('DELETE', `/api/tasks/${created.body.id}`, { headers: { 'if-match': second.headers.get('etag')! } })
    expect(staleDelete.status).toBe(412)
    const currentDelete = await user.call('DELETE', `/api/tasks/${created.body.id}`, {
      headers: { 'if-match': `"1.1", ${any.headers.get('etag')}` },
    })
    expect(currentDelete.status).toBe(204)
  })

  test('an If-Match version no task could have (past int4) is a 412, not an error', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    for (const ifMatch of [`"${task.id}.2147483648"`, `"${task.id}.9007199254740993"`, `"${task.id}.1", "${task.id}.99999999999"`]) {
      const reply = await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'x' }, headers: { 'if-match': ifMatch } })
      expect(reply.status).toBe(ifMatch.includes('.1"') ? 200 : 412)
    }
  })

  test('If-Match compares the exact tag: other spellings of the same id and version match nothing, on every write', async () => {
    const user = await signedInUser()
    const task = await createTask(user, { title: 'untouched' })
    const tag = `"${task.id}.1"`
    const spellings = [
      `"${task.id}.01"`,
      `"0${task.id}.1"`,
      `w/"${task.id}.1"`,
      `xx"${task.id}.1"yy`,
      `"${task.id}.1" junk`,
      `" ${task.id}.1"`,
      `"+${task.id}.1"`,
      `"${task.id}.1.0"`,
      `"${task.id}.1e0"`,
      `${task.id}.1`,
      `"${task.id}.1`,
    ]
    const writes = [
      ['PATCH', '', { title: 'changed' }],
      ['PUT', '', { title: 'changed' }],
      ['PATCH', '/complete', undefined],
      ['DELETE', '', undefined],
    ] as const
    for (const ifMatch of spellings)
      for (const [method, suffix, body] of writes) {
        const reply = await user.call(method, `/api/tasks/${task.id}${suffix}`, { body, headers: { 'if-match': ifMatch } })
        expect({ ifMatch, method, suffix, status: reply.status, code: reply.body?.code }).toEqual({
          ifMatch,
          method,
          suffix,
          status: 412,
          code: 'precondition_failed',
        })
      }
    const unchanged = await user.call('GET', `/api/tasks/${task.id}`)
    expect({ title: unchanged.body.title, completed: unchanged.body.completed, etag: unchanged.headers.get('etag') }).toEqual({
      title: 'untouched',
      completed: false,
      etag: tag,
    })
    expect((await user.call('PATCH', `/api/tasks/${task.id}`, { body: { title: 'changed' }, headers: { 'if-match': tag } })).status).toBe(
      200,
    )
  })

  test('concurrent PATCHes with one If-Match: exactly one succeeds', async () => {
    const user = await signedInUser()
    const created = await user.call('POST', '/api/tasks', { body: { title: 'race' } })
    const etag = created.headers.get('etag')!
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        user.call('PATCH', `/api/tasks/${created.body.id}`, { body: { title: `writer ${i}` }, headers: { 'if-match': etag } }),
      ),
    )
    expect(replies.map((r) => r.status).sort()).toEqual([200, 412, 412, 412, 412, 412, 412, 412])
  })
})

describe('PATCH /api/tasks/{id}/complete', () => {
  test('without a body it toggles, with {completed} it sets, and setting twice is idempotent', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    const on = await user.call('PATCH', `/api/tasks/${task.id}/complete`)
    expect(on.status).toBe(200)
    expect(on.body.completed).toBe(true)
    const off = await user.call('PATCH', `/api/tasks/${task.id}/complete`)
    expect(off.body.completed).toBe(false)
    const set = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { body: { completed: true } })
    expect(set.body.completed).toBe(true)
    const again = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { body: { completed: true } })
    expect(again.body).toEqual(set.body)
    expect(again.headers.get('etag')).toBe(set.headers.get('etag'))
  })

  test('a body other than {completed: boolean} is 422', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    for (const body of [{ completed: 'yes' }, { completed: true, title: 'x' }, {}]) {
      const reply = await user.call('PATCH', `/api/tasks/${task.id}/complete`, { body })
      expect(reply.status).toBe(422)
    }
    expect((await user.call('GET', `/api/tasks/${task.id}`)).body.completed).toBe(false)
  })
})

describe('DELETE /api/tasks/{id}', () => {
  test('the task decides the answer even when its quota row is gone (account deletion racing a create)', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    await database.db.delete(taskQuotas).where(eq(taskQuotas.userId, user.id))
    expect((await user.call('DELETE', `/api/tasks/${task.id}`)).status).toBe(204)
    expect((await user.call('GET', `/api/tasks/${task.id}`)).status).toBe(404)
  })

  test('204 with an empty body, then 404', async () => {
    const user = await signedInUser()
    const task = await createTask(user)
    const reply = await user.call('DELETE', `/api/tasks/${task.id}`)
    expect(reply.status).toBe(204)
    expect(reply.text).toBe('')
    expect((await user.call('GET', `/api/tasks/${task.id}`)).status).toBe(404)
    expect((await user.call('DELETE', `/api/tasks/${task.id}`)).status).toBe(404)
  })
})

describe('GET /api/tasks', () => {
  test('a new user sees an empty array', async () => {
    const user = await signedInUser()
    const reply = await user.call('GET', '/api/tasks')
    expect(reply.status).toBe(200)
    expect(reply.body).toEqual([])
    expect(reply.headers.get('x-total-count')).toBe('0')
  })

  test('without a token it is 401', async () => {
    expectUnauthenticated(await call('GET', '/api/tasks'), 'token_missing', /missing/i)
  })
})
