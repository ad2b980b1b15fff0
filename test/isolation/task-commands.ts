// The owner's task commands: create (in a list, or under a task), update,
// complete, delete, read, list with filters, and move.
import { expect } from 'bun:test'
import fc from 'fast-check'
import type { List } from '../../src/lists/model'
import type { Task } from '../../src/tasks/model'
import { parseLinks, type Reply, type User } from '../support'
import { type CreateBody, type ListParams, type Placement, pickArb, type QuerySpec, type UpdateBody, updateBodyArb } from './generators'
import {
  ancestors,
  createOutcome,
  currentList,
  descendants,
  describeTaskPick,
  expectedTaskPage,
  forget,
  isRefusal,
  listEtagHolds,
  type Model,
  normalDueDate,
  pickId,
  pickTask,
  place,
  type Refusal,
  type TaskPick,
  type UserModel,
} from './model'
import { expectCompletion, restartsSeries, seriesOf, storedRecurrence, withoutDue } from './recurrence'
import {
  base,
  describeIfMatch,
  describeRefusal,
  expectRefusal,
  expectShape,
  expectTouched,
  expectWrite,
  holder,
  type IfMatch,
  ISO,
  ifMatchHeader,
  label,
  type Real,
  Step,
  show,
  store,
  storeList,
  type Via,
} from './steps'

/** The list_id and parent_id a placement asks for, resolved against what the user holds now. */
function placementBody(mine: UserModel, placement: Placement): { list_id?: number; parent_id?: number | null } {
  if (placement.kind === 'top') return { parent_id: null }
  if (placement.kind === 'list') return mine.lists.size ? { list_id: pickId(mine.lists.keys(), placement.pick) } : {}
  if (placement.kind === 'default' || mine.tasks.size === 0) return {}
  const ids = [...mine.tasks.keys()]
  const depth = (id: number) => ancestors(mine, id).length
  const parentId =
    placement.pick === 'newest'
      ? Math.max(...ids)
      : placement.pick === 'deepest'
        ? ids.reduce((deepest, id) => (depth(id) > depth(deepest) ? id : deepest))
        : pickId(ids, placement.pick)
  const parentList = mine.tasks.get(parentId)!.list_id
  const otherLists = [...mine.lists.keys()].filter((id) => id !== parentList)
  if (placement.list === 'parent') return { parent_id: parentId, list_id: parentList }
  if (placement.list === 'other' && otherLists.length) return { parent_id: parentId, list_id: pickId(otherLists, parentId) }
  return { parent_id: parentId }
}

/** The user creates one to five tasks in a row (one command, so that runs reach lists worth sorting and trees worth moving). */
export class Create extends Step {
  constructor(
    readonly actor: number,
    readonly bodies: { fields: CreateBody; placement: Placement }[],
    readonly via: Via,
  ) {
    super()
  }
  check = () => true
  toString = () =>
    `${label(this.actor)} POST ${this.via === 'alias' ? `/api/{${label(this.actor)}}/tasks` : '/api/tasks'} ${this.bodies.map((b) => `${show(b.fields)} placed ${show(b.placement)}`).join(', then ')}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const path = base(real, this.actor, this.via)
    const results: string[] = []
    for (const { fields, placement } of this.bodies) {
      const placed = placementBody(mine, placement)
      const body = { ...fields, ...placed }
      const slot = createOutcome(mine, placed)
      const recurrence = fields.recurrence === undefined ? null : storedRecurrence(fields.recurrence)
      const dueless: Refusal | undefined = recurrence && !fields.due_date ? { status: 422, field: 'recurrence' } : undefined
      const outcome = isRefusal(slot) ? slot : (dueless ?? slot)
      const reply = await real.users[this.actor]!.call<Task>('POST', path, { body })
      if (isRefusal(outcome)) {
        expectRefusal(reply, outcome)
        // The default list is made before the insert is refused: the check after the step reads it.
        if (!isRefusal(slot) && slot.listId === 'default') mine.defaultMade = true
        results.push(`${show(placed)} → ${describeRefusal(outcome)}`)
        continue
      }
      const inDefault = outcome.listId === 'default'
      expect({ sent: body, status: reply.status, body: reply.body }).toEqual({
        sent: body,
        status: 201,
        body: {
          id: expect.any(Number),
          // The default list's id is known once it is made (the model reads it after the step that made it).
          list_id: inDefault ? (mine.defaultId ?? expect.any(Number)) : outcome.listId,
          parent_id: outcome.parentId,
          position: expect.any(String),
          title: fields.title.trim(),
          description: fields.description ?? null,
          completed: false,
          priority: fields.priority ?? 'medium',
          due_date: normalDueDate(fields.due_date ?? null),
          tags: fields.tags ?? [],
          recurrence,
          reminders: [],
          created_at: expect.stringMatching(ISO),
          updated_at: expect.stringMatching(ISO),
        },
      })
      expectShape(reply.body, 'task')
      expect(reply.body.updated_at).toBe(reply.body.created_at)
      // A fresh id: no user in the model holds it, and it was never deleted in this run.
      const id = reply.body.id
      expect({ id, reused: model.users.some((u) => u.tasks.has(id)) || model.gone.includes(id) }).toEqual({ id, reused: false })
      expect(reply.headers.get('location')).toBe(`${path}/${id}`)
      expect(reply.headers.get('etag')).not.toBeNull()
      if (inDefault && !mine.defaultMade) {
        // This create made the default list: the next check reads it.
        mine.defaultMade = true
        mine.defaultId = reply.body.list_id
      }
      store(mine, reply)
      place(mine, id)
      results.push(`${show(placed)} → 201 id ${id} in list ${reply.body.list_id}`)
    }
    return `${label(this.actor)} POST ${path}: ${results.join('; ')}`
  }
}

export type Write =
  | { kind: 'update'; method: 'PATCH' | 'PUT'; body: UpdateBody; list?: number }
  | { kind: 'toggle' }
  | { kind: 'set'; completed: boolean }

export const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(
      {
        kind: fc.constant('update' as const),
        method: fc.constantFrom('PATCH' as const, 'PUT' as const),
        body: updateBodyArb,
        // list_id: one of the user's lists (picked when the step runs), in about a third of updates.
        list: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: pickArb }),
      },
      { requiredKeys: ['kind', 'method', 'body'] },
    ),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'toggle' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), completed: fc.boolean() }) },
)

export function describeWrite(write: Write): string {
  if (write.kind === 'update') return `${write.method} {id} ${show(write.body)}${write.list === undefined ? '' : ` + list[${write.list}]`}`
  if (write.kind === 'toggle') return 'PATCH {id}/complete (no body)'
  return `PATCH {id}/complete ${show({ completed: write.completed })}`
}

/** The body a write sends; `listId` is the list_id an update names, if it names one. */
export function writeBody(write: Write, listId?: number): (UpdateBody & { list_id?: number }) | undefined {
  if (write.kind === 'update') return listId === undefined ? write.body : { ...write.body, list_id: listId }
  return write.kind === 'set' ? { completed: write.completed } : undefined
}

export function sendWrite(user: User, path: string, write: Write, headers: Record<string, string>, listId?: number) {
  const body = writeBody(write, listId)
  if (write.kind === 'update') return user.call<Task>(write.method, path, { body, headers })
  return user.call<Task>('PATCH', `${path}/complete`, { body, headers })
}

/**
 * The owner changes one of their tasks: update (PATCH/PUT, perhaps with a
 * new list, which takes the subtasks along), toggle, or set completion
 * (completing completes the open subtasks).
 */
export class OwnWrite extends Step {
  constructor(
    readonly actor: number,
    readonly pick: TaskPick,
    readonly write: Write,
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'tasks') !== undefined
  toString = () =>
    `holder(${label(this.actor)}) ${describeWrite(this.write)} on own ${describeTaskPick(this.pick)} via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'tasks')!
    const mine = model.users[actor]!
    const user = real.users[actor]!
    const id = pickTask(mine, this.pick)
    const before = mine.tasks.get(id)!
    const listId = this.write.kind === 'update' && this.write.list !== undefined ? pickId(mine.lists.keys(), this.write.list) : undefined
    const path = `${base(real, actor, this.via)}/${id}`
    const sentAt = new Date()
    const reply = await sendWrite(user, path, this.write, ifMatchHeader(mine.etags, id, this.ifMatch), listId)
    const answeredAt = new Date()
    const done = `${label(actor)} ${describeWrite(this.write)} on own task ${id}${listId === undefined ? '' : ` (list ${listId})`}`
    const relist = listId !== undefined && listId !== before.list_id
    // A subtask stays in its parent's list.
    if (relist && before.parent_id !== null) {
      expectRefusal(reply, { status: 422, field: 'list_id' })
      return `${done} → 422 naming list_id`
    }
    const after = { ...before }
    if (this.write.kind === 'toggle') after.completed = !before.completed
    const body = writeBody(this.write) ?? {}
    if (body.title !== undefined) after.title = body.title.trim()
    if (body.description !== undefined) after.description = body.description
    if (body.completed !== undefined) after.completed = body.completed
    if (body.priority !== undefined) after.priority = body.priority
    if (body.due_date !== undefined) after.due_date = normalDueDate(body.due_date)
    if (body.tags !== undefined) after.tags = body.tags
    if (body.recurrence !== undefined) after.recurrence = storedRecurrence(body.recurrence)
    const dueless = withoutDue(after, body.recurrence)
    if (dueless) {
      expectRefusal(reply, dueless)
      return `${done} → ${describeRefusal(dueless)}`
    }
    if (restartsSeries(before, after)) seriesOf(mine, id).done = 0
    // Completing an open recurring task records a completion and rolls it forward, unless its series ends.
    const completing = !before.completed && after.completed
    const rolled = completing && after.recurrence !== null && expectCompletion(mine, after, reply.body, sentAt, answeredAt)
    if (rolled) Object.assign(after, { completed: false, due_date: reply.body.due_date })
    const changed = relist || rolled || show(before) !== show(after)
    const { updated_at: _, ...expected }: Record<string, unknown> = relist
      ? { ...after, list_id: listId, position: expect.any(String) }
      : after
    expectWrite(reply, 'task', before, mine.etags.get(id)!, expected, changed)
    store(mine, reply)
    const below = descendants(mine, id)
    const touched = new Set<number>()
    if (relist) {
      // Last at the top level of the new list, its subtasks with it.
      place(mine, id)
      for (const task of below) mine.tasks.get(task)!.list_id = listId
      for (const task of below) touched.add(task)
    }
    // Rolled forward, its subtasks reopen; else completing completes the open
    // subtasks ({completed: true} does so even on a task already completed).
    const completes = (this.write.kind === 'toggle' && after.completed) || body.completed === true
    for (const task of below.filter((task) => (rolled ? mine.tasks.get(task)!.completed : completes && !mine.tasks.get(task)!.completed))) {
      mine.tasks.get(task)!.completed = !rolled
      touched.add(task)
    }
    await expectTouched(mine, user, [...touched])
    return `${done} → ${reply.status}${changed ? '' : ' (no change)'}${rolled ? `, rolled to ${after.due_date}` : ''}${touched.size ? `, subtasks ${[...touched].join(', ')} changed` : ''}`
  }
}

/** The owner deletes a task: its subtasks (all levels) go with it. */
export class OwnDelete extends Step {
  constructor(
    readonly actor: number,
    readonly pick: TaskPick,
    readonly via: Via,
    readonly ifMatch: IfMatch,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, 'tasks') !== undefined
  toString = () => `holder(${label(this.actor)}) DELETE own ${describeTaskPick(this.pick)} via ${this.via}${describeIfMatch(this.ifMatch)}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, 'tasks')!
    const mine = model.users[actor]!
    const id = pickTask(mine, this.pick)
    const headers = ifMatchHeader(mine.etags, id, this.ifMatch)
    const reply = await real.users[actor]!.call('DELETE', `${base(real, actor, this.via)}/${id}`, { headers })
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 204, text: '' })
    const subtree = [id, ...descendants(mine, id)]
    forget(model, actor, subtree)
    return `${label(actor)} DELETE own task ${id} → 204, gone: ${subtree.join(', ')}`
  }
}

/** The owner reads one of their tasks or lists. */
export class OwnGet extends Step {
  constructor(
    readonly actor: number,
    readonly kind: 'tasks' | 'lists',
    readonly pick: number,
    readonly via: Via,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor, this.kind) !== undefined
  toString = () => `holder(${label(this.actor)}) GET own ${this.kind}[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor, this.kind)!
    const mine = model.users[actor]!
    const id = pickId(mine[this.kind].keys(), this.pick)
    const reply = await real.users[actor]!.call<Task | List>('GET', `${base(real, actor, this.via, this.kind)}/${id}`)
    const expected = this.kind === 'tasks' ? mine.tasks.get(id)! : currentList(mine, id)
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: expected })
    // A list's last ETag no longer holds once its open_count changed.
    const stored = (this.kind === 'tasks' ? mine.etags : mine.listEtags).get(id)!
    const holds = this.kind === 'tasks' || listEtagHolds(mine, id)
    const etag = reply.headers.get('etag')
    expect({ etag, same: etag === stored }).toEqual({ etag: expect.any(String), same: holds })
    if (this.kind === 'lists') storeList(mine, reply as Reply<List>)
    return `${label(actor)} GET own ${this.kind} ${id} → 200`
  }
}

/** rel → the offset and limit its target asks for. */
function pageLinks(header: string | null): Record<string, { offset: string; limit: string }> {
  const links = Object.entries(parseLinks(header)).map(([rel, { query }]) => [rel, { offset: query.offset!, limit: query.limit! }])
  return Object.fromEntries(links)
}

/** GET /api/tasks with filters (one of the user's lists, the top level or one task's subtasks), sorts and paging. */
export class Query extends Step {
  constructor(
    readonly actor: number,
    readonly spec: QuerySpec,
    readonly via: Via,
  ) {
    super()
  }
  check = () => true
  toString = () => `${label(this.actor)} GET tasks ${show(this.spec)} via ${this.via}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const { list, parent, ...rest } = this.spec
    const params: ListParams = { ...rest }
    if (list !== undefined && mine.lists.size) params.list_id = pickId(mine.lists.keys(), list)
    if (parent === 'none') params.parent_id = 'none'
    else if (parent !== undefined && mine.tasks.size) params.parent_id = pickId(mine.tasks.keys(), parent)
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()
    const reply = await real.users[this.actor]!.call<Task[]>('GET', `${base(real, this.actor, this.via)}${query ? `?${query}` : ''}`)
    const { rows, total } = expectedTaskPage(mine, params)
    expect({ status: reply.status, ids: reply.body?.map((t) => t.id) }).toEqual({ status: 200, ids: rows.map((t) => t.id) })
    expect(reply.body).toEqual(rows)
    expect(reply.headers.get('x-total-count')).toBe(String(total))
    // Link: next and prev pages where they exist, keeping the limit.
    const offset = params.offset ?? 0
    const limit = params.limit ?? 100
    const expectedLinks: Record<string, { offset: string; limit: string }> = {}
    if (offset + limit < total) expectedLinks.next = { offset: String(offset + limit), limit: String(limit) }
    if (offset > 0) expectedLinks.prev = { offset: String(Math.max(0, offset - limit)), limit: String(limit) }
    expect(pageLinks(reply.headers.get('link'))).toEqual(expectedLinks)
    return `${label(this.actor)} GET tasks ?${query} via ${this.via} → ${rows.length} of ${total}`
  }
}
