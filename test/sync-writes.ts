// The writes sync.property.test.ts runs against a user's lists and tasks, as
// fast-check values. A write names its targets by small indexes into the
// user's ids as they are when it runs (so that concurrent writes often meet on
// one list or task); requestOf turns it into a request.
import fc from 'fast-check'
import type { Reply, User } from './support'

type Priority = 'low' | 'medium' | 'high'

/** An index into the user's lists or tasks (by id), taken modulo their number. */
type Pick = number

export type Write =
  | { op: 'create task'; title: string; list?: Pick; parent?: Pick }
  | { op: 'update task'; task: Pick; title?: string; completed?: boolean; priority?: Priority; list?: Pick }
  | { op: 'toggle task'; task: Pick }
  | { op: 'move task'; task: Pick; list?: Pick; parent?: Pick | 'top'; after?: Pick; before?: Pick }
  | { op: 'delete task'; task: Pick }
  | { op: 'create list'; name: string }
  | { op: 'update list'; list: Pick; name?: string; color?: string | null }
  | { op: 'move list'; list: Pick; side: 'after_id' | 'before_id'; anchor: Pick }
  | { op: 'delete list'; list: Pick }

/** The user's ids when a write runs, each kind in id order. */
export type Ids = { lists: number[]; tasks: number[]; defaultList: number }

export type Request = { method: string; path: string; body?: Record<string, unknown> }

// Few targets, so that concurrent writes often meet on one list or task.
const pick = fc.nat({ max: 5 })
const title = fc.constantFrom('a', 'b', 'Buy milk', '漢字', '😀 emoji', "'; --")
const name = fc.constantFrom('Work', 'Home', 'Ελλάδα', 'x')

const taskOp = <Op extends string, T>(op: Op, fields: fc.Arbitrary<T>) =>
  fc.tuple(pick, fields).map(([task, rest]) => ({ op, task, ...rest }))

// Any of these at once, as a PATCH may send them (at least one).
const taskFields = fc
  .record(
    { title, completed: fc.boolean(), priority: fc.constantFrom<Priority>('low', 'medium', 'high'), list: pick },
    { requiredKeys: [] },
  )
  .filter((fields) => Object.keys(fields).length > 0)

// The shapes of move a client sends: to a list, under a task, to the top, next to a sibling.
const moveFields = fc.oneof(
  fc.record({ list: pick }),
  fc.record({ parent: pick }),
  fc.record({ parent: fc.constant('top' as const) }),
  fc.record({ after: pick }),
  fc.record({ before: pick }),
  fc.record({ list: pick, after: pick }),
  fc.record({ parent: pick, before: pick }),
)

export const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.record({ op: fc.constant('create task' as const), title }),
      fc.record({ op: fc.constant('create task' as const), title, list: pick }),
      fc.record({ op: fc.constant('create task' as const), title, parent: pick }),
    ),
  },
  { weight: 3, arbitrary: taskOp('update task' as const, taskFields) },
  { weight: 3, arbitrary: taskOp('toggle task' as const, fc.constant({})) },
  { weight: 3, arbitrary: taskOp('move task' as const, moveFields) },
  { weight: 2, arbitrary: taskOp('delete task' as const, fc.constant({})) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('create list' as const), name }) },
  {
    weight: 1,
    arbitrary: fc
      .record(
        { op: fc.constant('update list' as const), list: pick, name, color: fc.constantFrom('#3366ff', '#FF0000', null) },
        { requiredKeys: ['op', 'list'] },
      )
      .filter((write) => Object.keys(write).length > 2),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('move list' as const),
      list: pick,
      side: fc.constantFrom('after_id' as const, 'before_id' as const),
      anchor: pick,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete list' as const), list: pick }) },
)

const at = (ids: number[], index: Pick | undefined) => (index === undefined || ids.length === 0 ? undefined : ids[index % ids.length])

/** Only the fields that are set: `undefined` means "not sent". */
function fields(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined))
}

/** The request a write makes with the user's ids as they are; undefined when it has no target (no tasks yet). */
export function requestOf(write: Write, ids: Ids): Request | undefined {
  const task = 'task' in write ? at(ids.tasks, write.task) : undefined
  if ('task' in write && task === undefined) return undefined
  const tasks = `/api/tasks/${task}`
  switch (write.op) {
    case 'create task':
      return {
        method: 'POST',
        path: '/api/tasks',
        body: fields({ title: write.title, list_id: at(ids.lists, write.list), parent_id: at(ids.tasks, write.parent) }),
      }
    case 'update task': {
      const { title, completed, priority } = write
      return { method: 'PATCH', path: tasks, body: fields({ title, completed, priority, list_id: at(ids.lists, write.list) }) }
    }
    case 'toggle task':
      return { method: 'PATCH', path: `${tasks}/complete` }
    case 'move task': {
      const parent = write.parent === 'top' ? null : at(ids.tasks, write.parent)
      const body = {
        list_id: at(ids.lists, write.list),
        parent_id: parent,
        after_id: at(ids.tasks, write.after),
        before_id: at(ids.tasks, write.before),
      }
      return { method: 'POST', path: `${tasks}/move`, body: fields(body) }
    }
    case 'delete task':
      return { method: 'DELETE', path: tasks }
    case 'create list':
      return { method: 'POST', path: '/api/lists', body: { name: write.name } }
    case 'update list':
      return { method: 'PATCH', path: `/api/lists/${at(ids.lists, write.list)}`, body: fields({ name: write.name, color: write.color }) }
    case 'move list':
      return { method: 'POST', path: `/api/lists/${at(ids.lists, write.list)}/move`, body: { [write.side]: at(ids.lists, write.anchor) } }
    case 'delete list': {
      // Mostly a list that can go; the default list only when there is no other (409).
      const others = ids.lists.filter((id) => id !== ids.defaultList)
      return { method: 'DELETE', path: `/api/lists/${at(others.length > 0 ? others : ids.lists, write.list)}` }
    }
  }
}

/** The kind of resource a created resource is, for a 201. */
export const createdKind = (request: Request): 'list' | 'task' => (request.path === '/api/lists' ? 'list' : 'task')

export function send(user: User, request: Request, headers: Record<string, string> = {}): Promise<Reply> {
  return user.call(request.method, request.path, { body: request.body, headers })
}

export const describeRequest = (request: Request) =>
  `${request.method} ${request.path}${request.body ? ` ${JSON.stringify(request.body)}` : ''}`
