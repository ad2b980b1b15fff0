// A task field is declared twice, in the model (src/tasks/model.ts) and the
// table (src/db/schema.ts); everything else is derived from those. These
// tests fail when the two disagree, or when a derived place misses a field:
// an answer without it, a PATCH that answers 200 and stores nothing.
import { describe, expect, test } from 'bun:test'
import { getTableColumns } from 'drizzle-orm'
import { tasks } from '../src/db/schema'
import { TaskModel } from '../src/tasks/model'
import { createTask, makeList, signedInUser, type User } from './support'

const answerFields = Object.keys(TaskModel.task.properties)
const writableFields = Object.keys(TaskModel.update.properties)
const createFields = Object.keys(TaskModel.create.properties)
const columnNames = Object.values(getTableColumns(tasks)).map((column) => column.name)

// Set on create, changed afterwards only by POST /api/tasks/{id}/move.
const CREATE_ONLY = ['parent_id']

// Answered fields kept in columns of other names (src/tasks/columns.ts).
const STORED_AS: Record<string, string[]> = { recurrence: ['recurrence_rule', 'recurrence_from'] }

// A value for each writable field that differs from its default (made for the
// user when it is an id; `body` holds the values made before it). A new
// field without one here fails the first test below.
// `task` is what the task must have for the field to be set on it.
type Sample =
  | { value: unknown; answered?: unknown; task?: Record<string, unknown> }
  | { make: (user: User, body: Record<string, unknown>) => Promise<unknown>; task?: undefined }
const SAMPLES: Record<string, Sample> = {
  title: { value: 'a sample title' },
  description: { value: 'a sample description' },
  completed: { value: true },
  priority: { value: 'high' },
  due_date: { value: '2031-05-06T07:08:09+02:00', answered: '2031-05-06T05:08:09.000Z' },
  tags: { value: ['one', 'two'] },
  recurrence: {
    value: { rule: 'freq=weekly;byday=mo' },
    answered: { rule: 'FREQ=WEEKLY;BYDAY=MO', from: 'due' },
    task: { due_date: '2031-05-06' },
  },
  reminders: {
    value: [{ before_minutes: 30 }, { at: '2031-05-06T06:00:00+02:00' }],
    answered: [{ before_minutes: 30 }, { at: '2031-05-06T04:00:00.000Z' }],
  },
  list_id: { make: (user) => makeList(user) },
  parent_id: { make: async (user, body) => (await createTask(user, { list_id: body.list_id })).id },
}

async function sample(field: string, user: User, body: Record<string, unknown> = {}) {
  const chosen = SAMPLES[field]!
  if ('make' in chosen) {
    const value = await chosen.make(user, body)
    return { value, answered: value }
  }
  return { value: chosen.value, answered: 'answered' in chosen ? chosen.answered : chosen.value }
}

describe('task fields: the model, the table and the answer agree', () => {
  test('every answered field has a column of its name, and user_id is never answered', () => {
    expect(answerFields.filter((field) => !columnNames.includes(field))).toEqual(Object.keys(STORED_AS))
    expect(
      Object.values(STORED_AS)
        .flat()
        .filter((column) => !columnNames.includes(column)),
    ).toEqual([])
    expect(answerFields).not.toContain('user_id')
    expect(writableFields.filter((field) => !answerFields.includes(field))).toEqual([])
    expect(createFields.filter((field) => !writableFields.includes(field))).toEqual(CREATE_ONLY)
    expect([...writableFields, ...CREATE_ONLY].filter((field) => !(field in SAMPLES))).toEqual([])
  })

  test('an answer carries exactly the model fields, in its order', async () => {
    const user = await signedInUser()
    const created = await user.call('POST', '/api/tasks', { body: { title: 'fields' } })
    const listed = await user.call('GET', '/api/tasks')
    const fetched = await user.call('GET', `/api/tasks/${created.body.id}`)
    for (const answer of [created.body, listed.body[0], fetched.body]) expect(Object.keys(answer)).toEqual(answerFields)
  })

  for (const field of writableFields)
    test(`PATCH ${field} stores it, moves the ETag, and a GET shows it`, async () => {
      const user = await signedInUser()
      const created = await user.call('POST', '/api/tasks', { body: { title: 'before', ...SAMPLES[field]!.task } })
      const { value, answered } = await sample(field, user)
      const patched = await user.call('PATCH', `/api/tasks/${created.body.id}`, { body: { [field]: value } })
      expect(patched.status).toBe(200)
      expect(patched.body[field]).toEqual(answered)
      expect(patched.headers.get('etag')).not.toBe(created.headers.get('etag'))
      expect((await user.call('GET', `/api/tasks/${created.body.id}`)).body[field]).toEqual(answered)
    })

  test('every create field is stored when given', async () => {
    const user = await signedInUser()
    const body: Record<string, unknown> = {}
    const answered: Record<string, unknown> = {}
    for (const field of createFields) ({ value: body[field], answered: answered[field] } = await sample(field, user, body))
    const created = await user.call('POST', '/api/tasks', { body })
    expect(created.status).toBe(201)
    const fetched = (await user.call('GET', `/api/tasks/${created.body.id}`)).body
    for (const field of createFields) expect([field, fetched[field]]).toEqual([field, answered[field]])
  })
})
