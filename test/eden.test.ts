// The frontend's view: the exported App type drives a typed Eden client. The
// expect-error directives are part of the test: `bun run test` runs tsc first,
// and a wrong body that type-checked would fail it.
import { describe, expect, test } from 'bun:test'
import { treaty } from '@elysiajs/eden'
import type { App } from '../src/app'
import { app, signedInUser } from './support'

function client(token: string, options: { parseDate?: boolean } = {}) {
  return treaty<App>(app, { headers: { authorization: `Bearer ${token}` }, ...options })
}

describe('Eden treaty client', () => {
  test('creates, lists, completes and deletes with typed requests and responses', async () => {
    const user = await signedInUser('eden')
    const api = client(user.token)

    const created = await api.api.tasks.post({ title: 'From Eden', tags: ['typed'], priority: 'high' })
    expect(created.status).toBe(201)
    expect(created.data).toMatchObject({ title: 'From Eden', tags: ['typed'], priority: 'high', completed: false })
    const id: number = created.data!.id

    const listed = await api.api.tasks.get({ query: { status: 'pending', sort: 'title', order: 'asc' } })
    expect(listed.status).toBe(200)
    expect(listed.data?.map((task) => task.id)).toEqual([id])
    expect((listed.headers as Headers).get('x-total-count')).toBe('1')

    const toggled = await api.api.tasks({ id }).complete.patch()
    expect(toggled.data?.completed).toBe(true)

    const renamed = await api.api.tasks({ id }).patch({ title: 'Renamed' })
    expect(renamed.data?.title).toBe('Renamed')

    const removed = await api.api.tasks({ id }).delete()
    expect(removed.status).toBe(204)
    const gone = await api.api.tasks({ id }).get()
    expect(gone.status).toBe(404)
    expect(gone.error?.value).toEqual({ detail: 'Task not found', code: 'task_not_found' })
  })

  test('a wrong body fails to type-check, and the server refuses it too', async () => {
    const user = await signedInUser('eden')
    const api = client(user.token)
    // @ts-expect-error title must be a string
    const wrongType = await api.api.tasks.post({ title: 42 })
    expect(wrongType.status).toBe(422)
    // @ts-expect-error user_id is not a field a client can send
    const massAssignment = await api.api.tasks.post({ title: 'x', user_id: 'someone-else' })
    expect(massAssignment.status).toBe(422)
    // @ts-expect-error priority is low, medium or high
    const wrongEnum = await api.api.tasks.post({ title: 'x', priority: 'urgent' })
    expect(wrongEnum.status).toBe(422)
    const empty = await api.api.tasks.get()
    expect(empty.data).toEqual([])
  })

  test('lists, subtasks and moves are typed too', async () => {
    const user = await signedInUser('eden')
    const api = client(user.token)
    const work = await api.api.lists.post({ name: 'Work', color: '#3366ff' })
    expect(work.status).toBe(201)
    const listId: number = work.data!.id
    const parent = await api.api.tasks.post({ title: 'Parent', list_id: listId })
    const child = await api.api.tasks.post({ title: 'Child', parent_id: parent.data!.id })
    expect(child.data).toMatchObject({ list_id: listId, parent_id: parent.data!.id })
    const moved = await api.api.tasks({ id: child.data!.id }).move.post({ parent_id: null })
    expect(moved.data).toMatchObject({ parent_id: null, list_id: listId })
    const lists = await api.api.lists.get()
    expect(lists.data?.map((list) => [list.name, list.open_count])).toEqual([
      ['Inbox', 0],
      ['Work', 2],
    ])
    // @ts-expect-error a list's name is a string
    const wrongName = await api.api.lists.post({ name: 7 })
    expect(wrongName.status).toBe(422)
    // @ts-expect-error position is never set by a client: moves place tasks
    const setPosition = await api.api.tasks({ id: parent.data!.id }).patch({ position: 'a0' })
    expect(setPosition.status).toBe(422)
  })

  test('settings, whole-day due dates and the due filters are typed too', async () => {
    const user = await signedInUser('eden')
    // By default Eden turns every date-like string of an answer into a Date: a whole day would
    // become its midnight in UTC. parseDate: false keeps due_date as answered.
    const api = client(user.token, { parseDate: false })
    const settings = await api.api.settings.get()
    expect(settings.data?.time_zone).toBe('UTC')
    const berlin = await api.api.settings.patch({ time_zone: 'Europe/Berlin' })
    expect([berlin.status, berlin.data?.time_zone]).toEqual([200, 'Europe/Berlin'])
    // @ts-expect-error time_zone is a string
    const wrongZone = await api.api.settings.patch({ time_zone: 1 })
    expect(wrongZone.status).toBe(422)
    // @ts-expect-error a setting the service does not have
    const unknown = await api.api.settings.patch({ locale: 'de' })
    expect(unknown.status).toBe(422)

    const day = await api.api.tasks.post({ title: 'Whole day', due_date: '2030-01-31' })
    const dueDate: string | null | undefined = day.data?.due_date
    expect(dueDate).toBe('2030-01-31')
    const parsed: unknown = (await client(user.token).api.tasks({ id: day.data!.id }).get()).data?.due_date
    expect(parsed).toEqual(new Date('2030-01-31T00:00:00Z'))
    const listed = await api.api.tasks.get({ query: { due_after: '2030-01-31', due_before: '2030-02-01', tz: 'Asia/Tokyo' } })
    expect(listed.data?.map((task) => task.id)).toEqual([day.data!.id])
    // @ts-expect-error due is one of overdue, today, tomorrow, next_7_days, no_date
    const wrongDue = await api.api.tasks.get({ query: { due: 'yesterday' } })
    expect(wrongDue.status).toBe(422)
  })
})
