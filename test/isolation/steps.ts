// What every command of the isolation property shares: the base class that
// runs a step, then compares every user's whole view with the model; and the
// assertions steps make on single replies.
import { expect } from 'bun:test'
import { eq } from 'drizzle-orm'
import type fc from 'fast-check'
import { lists } from '../../src/db/schema'
import { type List, ListModel } from '../../src/lists/model'
import { type Task, TaskModel } from '../../src/tasks/model'
import type { Webhook } from '../../src/webhooks/model'
import { traced } from '../property-trace'
import { database, errorBody, type Reply, type User } from '../support'
import { codePoints } from './generators'
import { compareStrings, expectedLists, type Model, type Refusal, SORTS, siblings, sortTasks, USERS, type UserModel } from './model'
import type { WebhookRun } from './webhook-commands'

export interface Real {
  users: User[]
  /** What this run did, with the ids resolved: attached to a failure. */
  trace: string[]
  /** The webhooks' secrets and what the receiver got for them. */
  webhooks: WebhookRun
}

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

export const label = (index: number) => `u${index}`

export type Via = 'plain' | 'alias'
export type IfMatch = 'none' | 'current' | '*'

export const ifMatchHeader = (etags: Map<number, string>, id: number, ifMatch: IfMatch): Record<string, string> =>
  ifMatch === 'none' ? {} : { 'if-match': ifMatch === '*' ? '*' : etags.get(id)! }
export const describeIfMatch = (ifMatch: IfMatch) => (ifMatch === 'none' ? '' : `, If-Match ${ifMatch}`)

/** The owner's route to a collection: /api/{resource}, or the /api/{own id}/{resource} alias. */
export function base(real: Real, actor: number, via: Via, resource: 'tasks' | 'lists' | 'webhooks' = 'tasks'): string {
  return via === 'alias' ? `/api/${real.users[actor]!.id}/${resource}` : `/api/${resource}`
}

/**
 * Commands name a preferred user; shown as holder(uN), they act as uN if uN
 * holds what they need (tasks, or lists), else as the next user who does, so
 * that few commands are skipped.
 */
export function holder(
  model: Readonly<Model>,
  preferred: number,
  needs: 'tasks' | 'lists' | 'webhooks',
  except?: number,
): number | undefined {
  for (let i = 0; i < USERS; i++) {
    const index = (preferred + i) % USERS
    if (index !== except && model.users[index]![needs].size > 0) return index
  }
  return undefined
}

/** JSON for traces, long strings (the 2000-character descriptions) abbreviated. */
export const show = (value: unknown) =>
  JSON.stringify(value, (_, v) =>
    typeof v === 'string' && v.length > 60 ? `${Array.from(v).slice(0, 12).join('')}…(${codePoints(v)} chars)` : v,
  )

export abstract class Step implements fc.AsyncCommand<Model, Real> {
  abstract check(model: Readonly<Model>): boolean
  abstract toString(): string
  /** Does the step and checks its own reply; returns the trace line. */
  protected abstract step(model: Model, real: Real): Promise<string>

  run(model: Model, real: Real): Promise<void> {
    const before = model.users.map(fingerprint)
    return traced(
      real.trace,
      this.toString(),
      () => this.step(model, real),
      () =>
        checkEverything(
          model,
          real,
          model.users.map((user, index) => fingerprint(user) !== before[index]),
        ),
    )
  }
}

// ---------------------------------------------------------------------------
// After every step

/** A user's tasks as the model holds them, and the zone of the due_date sort: a step that leaves both alone changes no sort order. */
const fingerprint = (user: UserModel) => JSON.stringify([user.timeZone, ...user.tasks.values()])

/**
 * Each user's whole view is the model's (settings, and webhooks once a run
 * has any, included), and no task, list or webhook id is ever seen by two
 * users; for users whose tasks or time zone changed, every sort of their
 * tasks too.
 */
async function checkEverything(model: Model, real: Real, changed: boolean[]) {
  const seen = { tasks: new Map<number, string>(), lists: new Map<number, string>(), webhooks: new Map<number, string>() }
  const noneSeenTwice = (kind: 'tasks' | 'lists' | 'webhooks', ids: number[], who: string) => {
    for (const id of ids) {
      expect({ [kind]: id, alsoSeenBy: seen[kind].get(id) }).toEqual({ [kind]: id, alsoSeenBy: undefined })
      seen[kind].set(id, who)
    }
  }
  for (const [index, user] of real.users.entries()) {
    const mine = model.users[index]!
    const tasks = await checkTasks(mine, user, label(index), changed[index]!)
    noneSeenTwice('tasks', tasks, label(index))
    const lists = await checkLists(model, index, user)
    noneSeenTwice('lists', lists, label(index))
    const settings = await user.call('GET', '/api/settings')
    expect({ user: label(index), status: settings.status, body: settings.body, etag: settings.headers.get('etag') }).toEqual({
      user: label(index),
      status: 200,
      body: { time_zone: mine.timeZone },
      etag: `"settings.${mine.settingsVersion}"`,
    })
    if (model.webhooksUsed) {
      const webhooks = await user.call<Webhook[]>('GET', '/api/webhooks')
      const expected = [...mine.webhooks.values()].sort((a, b) => a.id - b.id)
      expect({ user: label(index), status: webhooks.status, webhooks: webhooks.body }).toEqual({
        user: label(index),
        status: 200,
        webhooks: expected,
      })
      noneSeenTwice(
        'webhooks',
        webhooks.body.map((webhook) => webhook.id),
        label(index),
      )
    }
  }
}

/** GET /api/tasks: every task as the model holds it; each sibling group, sorted by the server's keys, in the model's order. */
async function checkTasks(mine: UserModel, user: User, who: string, sweepSorts: boolean): Promise<number[]> {
  const reply = await user.call<Task[]>('GET', '/api/tasks?limit=1000')
  expect(reply.status).toBe(200)
  const expected = sortTasks([...mine.tasks.values()])
  expect({ user: who, tasks: reply.body }).toEqual({ user: who, tasks: expected })
  expect(reply.headers.get('x-total-count')).toBe(String(expected.length))
  const groups = Map.groupBy(reply.body, (task) => `${task.list_id}/${task.parent_id}`)
  for (const group of groups.values()) {
    const { list_id: listId, parent_id: parentId } = group[0]!
    const byKey = group.toSorted((a, b) => compareStrings(a.position, b.position))
    expect({ user: who, listId, parentId, distinctKeys: new Set(group.map((task) => task.position)).size }).toEqual({
      user: who,
      listId,
      parentId,
      distinctKeys: group.length,
    })
    expect({ user: who, listId, parentId, order: byKey.map((task) => task.id) }).toEqual({
      user: who,
      listId,
      parentId,
      order: siblings(mine, listId, parentId),
    })
  }
  // Every sort in both directions, whole list: ties (equal titles, due dates, priorities) show their tie-break.
  if (sweepSorts && mine.tasks.size > 1)
    for (const sort of SORTS)
      for (const order of ['asc', 'desc'] as const) {
        const sorted = await user.call<Task[]>('GET', `/api/tasks?limit=1000&sort=${sort}&order=${order}`)
        expect({ user: who, sort, order, status: sorted.status, ids: sorted.body.map((task) => task.id) }).toEqual({
          user: who,
          sort,
          order,
          status: 200,
          ids: sortTasks(expected, sort, order, mine.timeZone).map((task) => task.id),
        })
      }
  return reply.body.map((task) => task.id)
}

/**
 * GET /api/lists: the lists in the model's order, keys increasing, open counts
 * derived from the tasks. A user whose default list the model says is not
 * made yet has no list at all: asking GET /api/lists would make it, so the
 * database is asked instead.
 */
async function checkLists(model: Model, index: number, user: User): Promise<number[]> {
  const mine = model.users[index]!
  if (!mine.defaultMade) {
    const stored = await database.db.select({ id: lists.id }).from(lists).where(eq(lists.userId, user.id))
    expect({ user: label(index), lists: stored }).toEqual({ user: label(index), lists: [] })
    return []
  }
  const reply = await user.call<List[]>('GET', '/api/lists')
  expect(reply.status).toBe(200)
  if (!mine.listOrder.some((id) => mine.lists.get(id)!.is_default)) await readDefaultList(model, index, user, reply.body)
  expect({ user: label(index), lists: reply.body }).toEqual({ user: label(index), lists: expectedLists(mine) })
  const keys = reply.body.map((list) => list.position)
  expect(keys).toEqual(keys.toSorted(compareStrings))
  expect(new Set(keys).size).toBe(keys.length)
  return reply.body.map((list) => list.id)
}

/** The default list the server made on the user's first need of it: new, named Inbox, first. */
async function readDefaultList(model: Model, index: number, user: User, answered: List[]) {
  const mine = model.users[index]!
  const made = answered.find((list) => list.is_default)
  const known = model.users.flatMap((other) => [...other.lists.keys()])
  const id = made?.id as number
  expect({ user: label(index), defaultList: id, reused: known.includes(id!) || model.goneLists.includes(id!) }).toEqual({
    user: label(index),
    defaultList: mine.defaultId ?? expect.any(Number),
    reused: false,
  })
  const reply = await user.call<List>('GET', `/api/lists/${id}`)
  expect(reply.body).toEqual({
    id,
    name: 'Inbox',
    color: null,
    is_default: true,
    position: expect.any(String),
    open_count: expect.any(Number),
    created_at: expect.stringMatching(ISO),
    updated_at: reply.body.created_at,
  })
  storeList(mine, reply)
  // Made before any other list of the user.
  mine.listOrder.unshift(reply.body.id)
  mine.defaultId = reply.body.id
}

// ---------------------------------------------------------------------------
// Single replies

export function expectError(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, body: reply.body }).toEqual({ status, body: errorBody(code) })
  expect(reply.headers.get('etag')).toBeNull()
}

export const describeRefusal = (refusal: Refusal) => (refusal.status === 422 ? `422 naming ${refusal.field}` : `409 ${refusal.code}`)

/** A 422 naming exactly `field`, or the 409 for the default list. */
export function expectRefusal(reply: Reply, refusal: Refusal) {
  if (refusal.status === 409) return expectError(reply, 409, refusal.code)
  const { field } = refusal
  expect({ status: reply.status, body: reply.body }).toEqual({
    status: 422,
    body: { detail: expect.stringContaining(field), code: 'validation_error', errors: [{ field, message: expect.any(String) }] },
  })
}

/** Exactly the answer's fields (the schema's), timestamps in the contract's form. */
export function expectShape(value: Task | List, kind: 'task' | 'list') {
  const schema = kind === 'task' ? TaskModel.task : ListModel.list
  expect(Object.keys(value).sort()).toEqual(Object.keys(schema.properties).sort())
  expect(value.created_at).toMatch(ISO)
  expect(value.updated_at).toMatch(ISO)
}

/**
 * A write answered 200: the body is the model's next state (`after`, whose
 * updated_at is not known), and the timestamp moved only if something
 * changed. The ETag is `oldEtag` unless something changed, or `oldEtag` no
 * longer held (a list whose open_count changed since it was answered).
 */
export function expectWrite<T extends Task | List>(
  reply: Reply<T>,
  kind: 'task' | 'list',
  before: T,
  oldEtag: string,
  after: Record<string, unknown>,
  changed: boolean,
  oldEtagHolds = true,
) {
  expect(reply.status).toBe(200)
  expectShape(reply.body, kind)
  if (changed) {
    expect(reply.body).toEqual({ ...after, updated_at: expect.stringMatching(ISO) } as T)
    expect(reply.body.updated_at >= before.updated_at).toBe(true)
  } else expect(reply.body).toEqual(before)
  const etag = reply.headers.get('etag')
  expect({ etag, same: etag === oldEtag }).toEqual({ etag: expect.any(String), same: !changed && oldEtagHolds })
}

export function store(mine: UserModel, reply: Reply<Task>) {
  mine.held.add(`task:${reply.body.id}`)
  mine.tasks.set(reply.body.id, reply.body)
  mine.etags.set(reply.body.id, reply.headers.get('etag')!)
}

export function storeList(mine: UserModel, reply: Reply<List>) {
  mine.held.add(`list:${reply.body.id}`)
  mine.lists.set(reply.body.id, reply.body)
  mine.listEtags.set(reply.body.id, reply.headers.get('etag')!)
}

/**
 * Tasks a step changed without answering them (subtasks moved to another list
 * or completed with their parent): the model has set their new fields; each
 * must read back so, with a later updated_at and a new ETag, which the model learns.
 */
export async function expectTouched(mine: UserModel, user: User, ids: number[]) {
  for (const id of ids) {
    const before = mine.tasks.get(id)!
    const reply = await user.call<Task>('GET', `/api/tasks/${id}`)
    expect({ status: reply.status, body: reply.body }).toEqual({
      status: 200,
      body: { ...before, updated_at: expect.stringMatching(ISO) },
    })
    expect(reply.body.updated_at >= before.updated_at).toBe(true)
    expect(reply.headers.get('etag')).not.toBe(mine.etags.get(id)!)
    store(mine, reply)
  }
}
