// The isolation property's model: what each user holds, and what the service
// must answer, worked out from the contract without the database. Positions
// are opaque keys: the model learns each task's and list's key from the reply
// that placed it and never predicts one; it keeps ORDER itself (`order`,
// `listOrder`), and the checks sort the server's keys to compare with it.
import type { List } from '../../src/lists/model'
import type { Task } from '../../src/tasks/model'
import { MAX_ANCESTORS } from '../../src/tasks/tree'
import type { Webhook } from '../../src/webhooks/model'
import type { ListParams } from './generators'

export const USERS = 3

/**
 * Time zones as a client may spell them, and as the service keeps them: a
 * zone each side of UTC with daylight saving time, the farthest from UTC both
 * ways, one with a half hour, and spellings that are not the canonical name.
 */
export const ZONES: Record<string, string> = {
  UTC: 'UTC',
  'Europe/Berlin': 'Europe/Berlin',
  'America/New_York': 'America/New_York',
  'Asia/Kolkata': 'Asia/Kolkata',
  'Pacific/Kiritimati': 'Pacific/Kiritimati',
  'Pacific/Pago_Pago': 'Pacific/Pago_Pago',
  'us/eastern': 'America/New_York',
  'Asia/Calcutta': 'Asia/Kolkata',
  'etc/utc': 'UTC',
}
export const canonicalZone = (sent: string) => ZONES[sent]!

export interface UserModel {
  tasks: Map<number, Task>
  etags: Map<number, string>
  /** Every task id, in an order that agrees with the order of each sibling group (same list, same parent). */
  order: number[]
  /** As last answered, with its ETag: the open_count of that answer, the current one is derived from the tasks. */
  lists: Map<number, List>
  listEtags: Map<number, string>
  /** List ids in the order the user arranged them. */
  listOrder: number[]
  /** The server has made the default list (on the user's first need of it); the next check reads it. */
  defaultMade: boolean
  /** The default list's id, once a reply has shown it. */
  defaultId?: number
  /** GET /api/settings: the canonical zone, and the version in its ETag (0 until it changes). */
  timeZone: string
  settingsVersion: number
  /**
   * Per task that has recurred: occurrences completed since its series
   * (re)started (a new rule or due date starts it again), and the due dates
   * of its recorded completions, newest first.
   */
  series: Map<number, { done: number; completions: string[] }>
  /** GET /api/webhooks as the model expects it, by id. */
  webhooks: Map<number, Webhook>
  /** Every task and list this user ever held ('task:7', 'list:3'): the only ones a delivery to them may name. */
  held: Set<string>
}

export interface Model {
  users: UserModel[]
  /** Task ids deleted in this run (by anyone): every verb on them is 404 for everyone. */
  gone: number[]
  /** List ids deleted in this run. */
  goneLists: number[]
  /** Webhook ids deleted in this run. */
  goneWebhooks: number[]
  /** Some user registered a webhook in this run: the check after every step reads every user's webhooks. */
  webhooksUsed: boolean
}

export function emptyModel(): Model {
  const user = (): UserModel => ({
    tasks: new Map(),
    etags: new Map(),
    order: [],
    lists: new Map(),
    listEtags: new Map(),
    listOrder: [],
    defaultMade: false,
    timeZone: 'UTC',
    settingsVersion: 0,
    series: new Map(),
    webhooks: new Map(),
    held: new Set(),
  })
  return { users: Array.from({ length: USERS }, user), gone: [], goneLists: [], goneWebhooks: [], webhooksUsed: false }
}

/** The pick-th of `ids` in id order (wrapping): how generated commands name a task or list. */
export function pickId(ids: Iterable<number>, pick: number): number {
  const sorted = [...ids].sort((a, b) => a - b)
  return sorted[pick % sorted.length]!
}

/**
 * How a command names the task it changes: the pick-th by id, the one with
 * the most subtasks, or a recurring one (open first) if there is one.
 */
export type TaskPick = number | 'largest' | 'recurring'

export const describeTaskPick = (pick: TaskPick) =>
  pick === 'largest' ? 'task with the most subtasks' : pick === 'recurring' ? 'recurring task' : `task[${pick} mod n]`

export function pickTask(user: UserModel, pick: TaskPick): number {
  if (pick === 'recurring') {
    const recurring = [...user.tasks.values()]
      .filter((task) => task.recurrence !== null)
      .sort((a, b) => Number(a.completed) - Number(b.completed))
    return recurring[0]?.id ?? pickId(user.tasks.keys(), 0)
  }
  if (pick !== 'largest') return pickId(user.tasks.keys(), pick)
  return user.order.reduce((largest, id) => (descendants(user, id).length > descendants(user, largest).length ? id : largest))
}

// ---------------------------------------------------------------------------
// The tree

/** Parent first, then its parent, and so on. */
export function ancestors(user: UserModel, id: number): number[] {
  const found: number[] = []
  for (let parent = user.tasks.get(id)!.parent_id; parent !== null; parent = user.tasks.get(parent)!.parent_id) found.push(parent)
  return found
}

/** Every task below `id`, all levels. */
export function descendants(user: UserModel, id: number): number[] {
  const below = user.order.filter((other) => user.tasks.get(other)!.parent_id === id)
  return below.flatMap((child) => [child, ...descendants(user, child)])
}

/** Levels of subtasks below `id` (0 for a task without subtasks). */
function height(user: UserModel, id: number): number {
  const levels = descendants(user, id).map((below) => ancestors(user, below).indexOf(id) + 1)
  return Math.max(0, ...levels)
}

/** The tasks of one sibling group in order, leaving out `except`. */
export function siblings(user: UserModel, listId: number, parentId: number | null, except?: number): number[] {
  return user.order.filter((id) => {
    const task = user.tasks.get(id)!
    return id !== except && task.list_id === listId && task.parent_id === parentId
  })
}

/** Puts `id` (list and parent already set) right after `after`, right before `before`, or last among its siblings. */
export function place(user: UserModel, id: number, anchor: { after?: number; before?: number } = {}): void {
  user.order = user.order.filter((other) => other !== id)
  if (anchor.after !== undefined) user.order.splice(user.order.indexOf(anchor.after) + 1, 0, id)
  else if (anchor.before !== undefined) user.order.splice(user.order.indexOf(anchor.before), 0, id)
  else user.order.push(id)
}

/** Deleted tasks leave the model; their ids are remembered, for 404s and as ids no longer the user's. */
export function forget(model: Model, actor: number, ids: number[]) {
  const mine = model.users[actor]!
  for (const id of ids) {
    mine.tasks.delete(id)
    mine.etags.delete(id)
    // Its completions go with it.
    mine.series.delete(id)
  }
  mine.order = mine.order.filter((id) => !ids.includes(id))
  model.gone.push(...ids)
}

export const openCount = (user: UserModel, listId: number) =>
  [...user.tasks.values()].filter((task) => task.list_id === listId && !task.completed).length

/** A list as GET answers it now. */
export const currentList = (user: UserModel, id: number): List => ({ ...user.lists.get(id)!, open_count: openCount(user, id) })

/** GET /api/lists as the model expects it. */
export const expectedLists = (user: UserModel): List[] => user.listOrder.map((id) => currentList(user, id))

/**
 * Whether the list's ETag as last answered is still its ETag. The tag covers
 * the whole answer, open_count included, which task writes change without
 * answering the list: once the count differs from that answer's, If-Match
 * with the old tag is 412 and the next answer carries another tag.
 */
export const listEtagHolds = (user: UserModel, id: number) => user.lists.get(id)!.open_count === openCount(user, id)

// ---------------------------------------------------------------------------
// What a request must do: a refusal (422 naming a field, or 409), or where the task or list goes

export type Refusal = { status: 422; field: string } | { status: 409; code: 'default_list' }
const refuse = (field: string): Refusal => ({ status: 422, field })
export const isRefusal = (outcome: object): outcome is Refusal => 'status' in outcome

export type Slot = { listId: number; parentId: number | null }

/** POST /api/tasks with list_id and parent_id: the list 'default' is the default list, made if need be. */
export function createOutcome(
  user: UserModel,
  body: { list_id?: number; parent_id?: number | null },
): Refusal | { listId: number | 'default'; parentId: number | null } {
  if (body.parent_id !== undefined && body.parent_id !== null) {
    const parent = user.tasks.get(body.parent_id)
    if (!parent) return refuse('parent_id')
    if (body.list_id !== undefined && body.list_id !== parent.list_id) return refuse('list_id')
    if (ancestors(user, parent.id).length + 1 > MAX_ANCESTORS) return refuse('parent_id')
    return { listId: parent.list_id, parentId: parent.id }
  }
  if (body.list_id !== undefined) return user.lists.has(body.list_id) ? { listId: body.list_id, parentId: null } : refuse('list_id')
  return { listId: 'default', parentId: null }
}

export type MoveBody = { list_id?: number; parent_id?: number | null; after_id?: number; before_id?: number }

/** The sibling group a move asks for, or why it is refused (the service checks the destination before the anchors). */
export function moveDestination(user: UserModel, id: number, body: MoveBody): Refusal | Slot {
  const task = user.tasks.get(id)!
  if (body.parent_id === undefined || body.parent_id === null) {
    const listId = body.list_id ?? task.list_id
    if (listId !== task.list_id) {
      // Left out, parent_id keeps the parent: a subtask cannot leave its parent's list alone.
      if (body.parent_id === undefined && task.parent_id !== null) return refuse('list_id')
      if (!user.lists.has(listId)) return refuse('list_id')
    }
    return { listId, parentId: body.parent_id === null ? null : task.parent_id }
  }
  const parent = user.tasks.get(body.parent_id)
  if (body.parent_id === id || !parent) return refuse('parent_id')
  if (body.list_id !== undefined && body.list_id !== parent.list_id) return refuse('list_id')
  if (ancestors(user, parent.id).includes(id)) return refuse('parent_id')
  if (ancestors(user, parent.id).length + 1 + height(user, id) > MAX_ANCESTORS) return refuse('parent_id')
  return { listId: parent.list_id, parentId: parent.id }
}

export type MovePlan = { slot: Slot; after?: number; before?: number }

/** POST /api/tasks/{id}/move: where the task goes (with both anchors, right after after_id), or why not. */
export function moveOutcome(user: UserModel, id: number, body: MoveBody): Refusal | MovePlan {
  const slot = moveDestination(user, id, body)
  if (isRefusal(slot)) return slot
  const group = siblings(user, slot.listId, slot.parentId, id)
  for (const field of ['after_id', 'before_id'] as const) {
    const anchor = body[field]
    if (anchor === undefined) continue
    // The task itself, another user's or a deleted task, or a task of another group.
    if (anchor === id || !group.includes(anchor)) return refuse(field)
  }
  const { after_id: after, before_id: before } = body
  if (after !== undefined && before !== undefined && group.indexOf(after) >= group.indexOf(before)) return refuse('before_id')
  return { slot, after, before }
}

/** POST /api/lists/{id}/move: the new order of the lists (the same order: nothing changes), or a refusal. */
export function listMoveOutcome(user: UserModel, id: number, side: 'after_id' | 'before_id', anchor: number): Refusal | number[] {
  if (user.lists.get(id)!.is_default) return { status: 409, code: 'default_list' }
  if (anchor === id || !user.lists.has(anchor)) return refuse(side)
  const others = user.listOrder.filter((other) => other !== id)
  const at = others.indexOf(anchor) + (side === 'after_id' ? 1 : 0)
  return [...others.slice(0, at), id, ...others.slice(at)]
}

// ---------------------------------------------------------------------------
// GET /api/tasks as the model expects it

const RANK: Record<Task['priority'], number> = { low: 0, medium: 1, high: 2 }

/** Lower-cased one code point at a time (context-free, as PostgreSQL's lower()). */
const lower = (text: string) => Array.from(text, (c) => c.toLowerCase()).join('')

/** Code-point order (JavaScript's < compares UTF-16 code units, which differs above U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a)
  const y = Array.from(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** Also byte order for positions: their keys are ASCII, and the column is COLLATE "C". */
export const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export const SORTS = ['created_at', 'updated_at', 'due_date', 'priority', 'title', 'position'] as const

/** A whole day (YYYY-MM-DD) as the contract reads it: from its first moment in the zone. */
const WHOLE_DAY = /^\d{4}-\d{2}-\d{2}$/
export const startOfDay = (day: string, zone: string) => Temporal.PlainDate.from(day).toZonedDateTime(zone).toInstant().epochMilliseconds

/** Where a due date sits in time, for the due_date sort and the due bounds: a whole day at its start in `zone`. */
const dueInstant = (due: string, zone: string) => (WHOLE_DAY.test(due) ? startOfDay(due, zone) : Date.parse(due))

export function sortTasks(tasks: Task[], sort: ListParams['sort'] = 'created_at', order?: ListParams['order'], zone = 'UTC'): Task[] {
  const sign = (order ?? (sort === 'position' ? 'asc' : 'desc')) === 'asc' ? 1 : -1
  const primary = (a: Task, b: Task): number => {
    switch (sort) {
      case 'updated_at':
        return sign * compareStrings(a.updated_at, b.updated_at)
      case 'priority':
        return sign * (RANK[a.priority] - RANK[b.priority])
      case 'title':
        return sign * compareCodePoints(lower(a.title), lower(b.title))
      case 'due_date':
        // Nulls last in both directions.
        if (a.due_date === null || b.due_date === null) return (a.due_date === null ? 1 : 0) - (b.due_date === null ? 1 : 0)
        return sign * (dueInstant(a.due_date, zone) - dueInstant(b.due_date, zone))
      case 'position':
        // The learned keys: within a sibling group the checks prove they give the model's order.
        return sign * compareStrings(a.position, b.position)
      default:
        return sign * compareStrings(a.created_at, b.created_at)
    }
  }
  return tasks.toSorted((a, b) => primary(a, b) || sign * (a.id - b.id))
}

/** due_after (inclusive) and due_before (exclusive): a date bound is the first moment of that day in the zone. */
function withinDueBounds(due: string | null, params: ListParams, zone: string): boolean {
  if (params.due === 'no_date') return due === null && params.due_after === undefined && params.due_before === undefined
  if (params.due_after === undefined && params.due_before === undefined) return true
  if (due === null) return false
  const at = dueInstant(due, zone)
  return (
    (params.due_after === undefined || at >= dueInstant(params.due_after, zone)) &&
    (params.due_before === undefined || at < dueInstant(params.due_before, zone))
  )
}

export function expectedTaskPage(user: UserModel, params: ListParams): { rows: Task[]; total: number } {
  const parentId = params.parent_id === 'none' ? null : params.parent_id
  const zone = params.tz === undefined ? user.timeZone : canonicalZone(params.tz)
  const matching = [...user.tasks.values()].filter(
    (task) =>
      (params.list_id === undefined || task.list_id === params.list_id) &&
      (parentId === undefined || task.parent_id === parentId) &&
      (params.status !== 'pending' || !task.completed) &&
      (params.status !== 'completed' || task.completed) &&
      (params.priority === undefined || task.priority === params.priority) &&
      (params.tag === undefined || task.tags.includes(params.tag)) &&
      withinDueBounds(task.due_date, params, zone),
  )
  const sorted = sortTasks(matching, params.sort, params.order, zone)
  const offset = params.offset ?? 0
  return { rows: sorted.slice(offset, offset + (params.limit ?? 100)), total: matching.length }
}

/** The contract's normal form of a due date: a moment in UTC with milliseconds; a whole day as sent. */
export const normalDueDate = (value: string | null) => (value === null || WHOLE_DAY.test(value) ? value : new Date(value).toISOString())
