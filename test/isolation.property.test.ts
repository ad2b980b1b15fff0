// Model-based property: three users run random sequences of task operations,
// and after every step each user's list equals a model kept in the test. As the
// attacker, a user also aims every verb at another user's task ids, which must be
// 403 and change nothing. fast-check prints the seed and path of a failure;
// replay one with FC_SEED=<seed> FC_PATH=<path> (and FC_REPLAY_PATH=<replayPath>
// from the counterexample); FC_RUNS=<n> runs more than the default 15.
import { expect, test } from 'bun:test'
import fc from 'fast-check'
import { type Task, TaskModel } from '../src/tasks/model'
import { errorBody, parseLinks, type Reply, signedInUser, type User } from './support'

// ---------------------------------------------------------------------------
// The model

// The task as the API answers it: the model's own type, so a new field shows up here too.
type ExpectedTask = Task
type Priority = Task['priority']

interface UserModel {
  tasks: Map<number, ExpectedTask>
  etags: Map<number, string>
}

interface Model {
  users: UserModel[]
  /** Ids deleted in this run (by anyone): every verb on them is 404 for everyone. */
  gone: number[]
}

interface Real {
  users: User[]
  /** What this run did, with the ids resolved: attached to a failure. */
  trace: string[]
}

const USERS = 3
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2 }

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

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

interface ListParams {
  status?: 'all' | 'pending' | 'completed'
  priority?: Priority
  tag?: string
  sort?: 'created_at' | 'updated_at' | 'due_date' | 'priority' | 'title'
  order?: 'asc' | 'desc'
  limit?: number
  offset?: number
}

function sortTasks(tasks: ExpectedTask[], sort: ListParams['sort'] = 'created_at', order: ListParams['order'] = 'desc'): ExpectedTask[] {
  const sign = order === 'asc' ? 1 : -1
  const primary = (a: ExpectedTask, b: ExpectedTask): number => {
    switch (sort) {
      case 'updated_at':
        return sign * compareStrings(a.updated_at, b.updated_at)
      case 'priority':
        return sign * (RANK[a.priority] - RANK[b.priority])
      case 'title':
        return sign * compareCodePoints(lower(a.title), lower(b.title))
      case 'due_date':
        // Nulls last in both directions; all due dates share one ISO shape, so text order is time order.
        if (a.due_date === null || b.due_date === null) return (a.due_date === null ? 1 : 0) - (b.due_date === null ? 1 : 0)
        return sign * compareStrings(a.due_date, b.due_date)
      default:
        return sign * compareStrings(a.created_at, b.created_at)
    }
  }
  return tasks.toSorted((a, b) => primary(a, b) || sign * (a.id - b.id))
}

function expectedList(user: UserModel, params: ListParams): { rows: ExpectedTask[]; total: number } {
  const matching = [...user.tasks.values()].filter(
    (task) =>
      (params.status !== 'pending' || !task.completed) &&
      (params.status !== 'completed' || task.completed) &&
      (params.priority === undefined || task.priority === params.priority) &&
      (params.tag === undefined || task.tags.includes(params.tag)),
  )
  const sorted = sortTasks(matching, params.sort, params.order)
  const offset = params.offset ?? 0
  return { rows: sorted.slice(offset, offset + (params.limit ?? 100)), total: matching.length }
}

/** The contract's normal form of a due date: UTC, milliseconds. */
const normalDueDate = (value: string | null) => (value === null ? null : new Date(value).toISOString())

// ---------------------------------------------------------------------------
// Generators

// Letters whose lower case is one code point, in several scripts; LIKE and
// string-literal metacharacters; an astral character (😀, U+1F600) that sorts
// above U+FF76 (ｶ) by code point but below it by UTF-16 code unit.
const ALPHABET = [
  'a',
  'b',
  'z',
  'A',
  'B',
  'Z',
  '0',
  '9',
  ' ',
  ' ',
  '%',
  '_',
  '\\',
  "'",
  '"',
  ';',
  '-',
  '*',
  '(',
  ')',
  'é',
  'É',
  'ö',
  'Ö',
  'σ',
  'Σ',
  'ж',
  'Ж',
  '漢',
  'ｶ',
  '😀',
  '👩‍💻',
  '\u00a0',
]
const NAMED_TITLES = [
  'a',
  'A',
  'b',
  'B',
  'Buy milk',
  'buy milk',
  'BUY MILK',
  "'; DROP TABLE tasks; --",
  "Robert'); DELETE FROM tasks WHERE ('1'='1",
  '" OR 1=1 --',
  "' OR ''='",
  '%',
  '_',
  '\\',
  '$1',
  'NULL',
  'null',
  '{}',
  '{"a":1}',
  '<script>alert(1)</script>',
  'Émile',
  'émile',
  'Zoë',
  'ΣΊΣΥΦΟΣ',
  'жук',
  'Жук',
  '漢字',
  '😀 emoji',
  'ｶﾀｶﾅ',
  '\u{10FFFF}',
  'x'.repeat(200),
  // 200 characters but 400 UTF-16 code units: lengths count characters.
  '😀'.repeat(200),
]
const PADDING = ['', '', ' ', '  ', '\t', '\n ', '\u00a0', '\u3000', '\ufeff']

/** Caseless code points only, so the model's lower-casing cannot disagree with the database's. */
const caseless = (text: string) => Array.from(text).every((c) => c.toLowerCase() === c && c.toUpperCase() === c)
const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed()
const codePoints = (text: string) => Array.from(text).length

const coreText = fc.oneof(
  // Titles equal but for case, so the title sort's tie-break shows.
  { weight: 2, arbitrary: fc.constantFrom('a', 'A', 'b', 'B', 'émile', 'Émile', 'ΣΑ', 'σα') },
  { weight: 3, arbitrary: fc.constantFrom(...NAMED_TITLES) },
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter((s) => storable(s) && caseless(s)) },
)

const titleArb = fc
  .tuple(fc.constantFrom(...PADDING), coreText, fc.constantFrom(...PADDING))
  .map(([before, core, after]) => before + core + after)
  .filter((title) => storable(title) && title.trim().length > 0 && codePoints(title.trim()) <= 200)

const descriptionArb = fc.oneof(
  fc.constant(null),
  fc.constantFrom('', 'd'.repeat(2000), '😀'.repeat(2000)),
  coreText,
  fc.string({ unit: 'grapheme', maxLength: 30 }).filter(storable),
)

const priorityArb = fc.constantFrom<Priority>('low', 'medium', 'high')

const TAGS = ['home', 'work', 'Work', 'urgent', 'ünï', 'x y', '%', 'a,b', '"q"', '{}', 'NULL', '😀', "'; --", '\\']
const COMMON_TAGS = ['home', 'work']
// The most a task may hold: 20 distinct tags, one of them 40 characters of 4 bytes each.
const FULL_TAGS = ['home', '😀'.repeat(40), ...Array.from({ length: 18 }, (_, i) => `tag ${i}`)]
const tagsArb = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.uniqueArray(fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...COMMON_TAGS) }, fc.constantFrom(...TAGS)), {
      maxLength: 4,
    }),
  },
  fc.constant(FULL_TAGS),
)

const two = (n: number) => String(n).padStart(2, '0')
// Several spellings of a date-time with a zone; days up to 28 so every one is real.
const dueDateArb = fc
  .record({
    year: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 2000, max: 2040 }) },
      { weight: 1, arbitrary: fc.integer({ min: 2, max: 9998 }) },
    ),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
    fraction: fc.constantFrom('', '.5', '.25', '.123'),
    zone: fc.constantFrom('Z', '+00:00', '+02:00', '-05:30', '+14:00', '-12:00'),
  })
  .map(
    ({ year, month, day, hour, minute, second, fraction, zone }) =>
      `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}${second === undefined ? '' : `:${two(second)}${fraction}`}${zone}`,
  )
// One instant spelled three ways, and its neighbours, so the due_date sort's tie-break shows.
const sharedDueDateArb = fc.constantFrom(
  '2030-01-01T00:00:00Z',
  '2030-01-01T02:00:00+02:00',
  '2029-12-31T19:00:00.000-05:00',
  '2030-01-01T00:00:00.001Z',
)
const dueDateOrNullArb = fc.oneof(fc.constant(null), dueDateArb, sharedDueDateArb)

type CreateBody = Omit<UpdateBody, 'completed'> & { title: string }
const createBodyArb: fc.Arbitrary<CreateBody> = fc.record(
  { title: titleArb, description: descriptionArb, priority: priorityArb, due_date: dueDateOrNullArb, tags: tagsArb },
  { requiredKeys: ['title'] },
)

type UpdateBody = Partial<Pick<ExpectedTask, 'title' | 'description' | 'completed' | 'priority' | 'due_date' | 'tags'>>
const updateBodyArb: fc.Arbitrary<UpdateBody> = fc
  .record(
    {
      title: titleArb,
      description: descriptionArb,
      completed: fc.boolean(),
      priority: priorityArb,
      due_date: dueDateOrNullArb,
      tags: tagsArb,
    },
    { requiredKeys: [] },
  )
  .filter((body) => Object.keys(body).length > 0)

/** Present in about a quarter of lists: several filters at once would mostly match nothing. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, weight = 1) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight, arbitrary })

const listParamsArb: fc.Arbitrary<ListParams> = fc
  .record({
    status: sometimes(fc.constantFrom('all' as const, 'pending' as const, 'completed' as const)),
    priority: sometimes(priorityArb),
    tag: sometimes(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...COMMON_TAGS) }, fc.constantFrom(...TAGS, 'absent'))),
    sort: sometimes(
      fc.constantFrom('created_at' as const, 'updated_at' as const, 'due_date' as const, 'priority' as const, 'title' as const),
      9,
    ),
    order: sometimes(fc.constantFrom('asc' as const, 'desc' as const), 6),
    limit: sometimes(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(100, 1000))),
    offset: sometimes(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) }, fc.constant(40))),
  })
  .map((params) => Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined)) as ListParams)

const actorArb = fc.integer({ min: 0, max: USERS - 1 })
const pickArb = fc.nat({ max: 1000 })
/** Owner routes: /api/tasks, or the /api/{own id}/tasks alias. */
const viaArb = fc.constantFrom<'plain' | 'alias'>('plain', 'alias')

// ---------------------------------------------------------------------------
// Helpers

const label = (index: number) => `u${index}`

function base(real: Real, actor: number, via: 'plain' | 'alias'): string {
  return via === 'alias' ? `/api/${real.users[actor]!.id}/tasks` : '/api/tasks'
}

/**
 * Owner commands name a preferred user; shown as holder(uN), they act as uN if
 * uN holds tasks, else as the next user who does, so that few commands are skipped.
 */
function holder(model: Readonly<Model>, preferred: number, except?: number): number | undefined {
  for (let i = 0; i < USERS; i++) {
    const index = (preferred + i) % USERS
    if (index !== except && model.users[index]!.tasks.size > 0) return index
  }
  return undefined
}

function pickId(ids: Iterable<number>, pick: number): number {
  const sorted = [...ids].sort((a, b) => a - b)
  return sorted[pick % sorted.length]!
}

function expectTaskShape(task: ExpectedTask) {
  expect(Object.keys(task).sort()).toEqual(Object.keys(TaskModel.task.properties).sort())
  expect(task.created_at).toMatch(ISO)
  expect(task.updated_at).toMatch(ISO)
}

function expectError(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, body: reply.body }).toEqual({ status, body: errorBody(code) })
  expect(reply.headers.get('etag')).toBeNull()
}

/** After every step: each user's whole list is the model, and no id crosses users. */
async function checkEverything(model: Model, real: Real) {
  const seen = new Map<number, number>()
  for (const [index, user] of real.users.entries()) {
    const reply = await user.call<ExpectedTask[]>('GET', '/api/tasks?limit=1000')
    expect(reply.status).toBe(200)
    const expected = sortTasks([...model.users[index]!.tasks.values()])
    expect({ user: label(index), tasks: reply.body }).toEqual({ user: label(index), tasks: expected })
    expect(reply.headers.get('x-total-count')).toBe(String(expected.length))
    for (const task of reply.body) {
      expect({ id: task.id, alsoListedFor: seen.get(task.id) }).toEqual({ id: task.id, alsoListedFor: undefined })
      seen.set(task.id, index)
    }
    // Every sort in both directions, whole list: ties (equal titles, due dates, priorities) show their tie-break.
    if (model.users[index]!.tasks.size > 1)
      for (const sort of SORTS)
        for (const order of ['asc', 'desc'] as const) {
          const sorted = await user.call<ExpectedTask[]>('GET', `/api/tasks?limit=1000&sort=${sort}&order=${order}`)
          expect({ user: label(index), sort, order, status: sorted.status, ids: sorted.body.map((task) => task.id) }).toEqual({
            user: label(index),
            sort,
            order,
            status: 200,
            ids: sortTasks(expected, sort, order).map((task) => task.id),
          })
        }
  }
}

const SORTS = ['created_at', 'updated_at', 'due_date', 'priority', 'title'] as const

/** A write answered 200: the body is the model's next state, and the timestamps and ETag moved only if something changed. */
function expectWrite(
  reply: Reply<ExpectedTask>,
  before: ExpectedTask,
  oldEtag: string,
  after: Omit<ExpectedTask, 'updated_at'>,
  changed: boolean,
) {
  expect(reply.status).toBe(200)
  expectTaskShape(reply.body)
  const etag = reply.headers.get('etag')
  if (changed) {
    expect(reply.body).toEqual({ ...after, updated_at: expect.stringMatching(ISO) })
    expect(reply.body.updated_at >= before.updated_at).toBe(true)
    expect(etag).not.toBeNull()
    expect(etag).not.toBe(oldEtag)
  } else {
    expect(reply.body).toEqual(before)
    expect(etag).toBe(oldEtag)
  }
}

function store(model: Model, actor: number, reply: Reply<ExpectedTask>) {
  model.users[actor]!.tasks.set(reply.body.id, reply.body)
  model.users[actor]!.etags.set(reply.body.id, reply.headers.get('etag')!)
}

/** JSON for traces, long strings (the 2000-character descriptions) abbreviated. */
const show = (value: unknown) =>
  JSON.stringify(value, (_, v) =>
    typeof v === 'string' && v.length > 60 ? `${Array.from(v).slice(0, 12).join('')}…(${codePoints(v)} chars)` : v,
  )

// ---------------------------------------------------------------------------
// Commands

abstract class Step implements fc.AsyncCommand<Model, Real> {
  abstract check(model: Readonly<Model>): boolean
  abstract toString(): string
  /** Does the step and checks its own reply; returns the trace line. */
  protected abstract step(model: Model, real: Real): Promise<string>

  async run(model: Model, real: Real): Promise<void> {
    let line = this.toString()
    try {
      line = await this.step(model, real)
      await checkEverything(model, real)
      real.trace.push(line)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      throw new Error(
        `step ${real.trace.length + 1}: ${line}\nsteps before it in this run:\n  ${real.trace.join('\n  ') || '(none)'}\n${message}`,
        {
          cause: error,
        },
      )
    }
  }
}

/** The user creates one to four tasks in a row (one command, so that runs reach lists worth sorting). */
class Create extends Step {
  constructor(
    readonly actor: number,
    readonly bodies: CreateBody[],
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  check = () => true
  toString = () =>
    `${label(this.actor)} POST ${this.via === 'alias' ? `/api/{${label(this.actor)}}/tasks` : '/api/tasks'} ${this.bodies.map(show).join(', then ')}`
  async step(model: Model, real: Real) {
    const path = base(real, this.actor, this.via)
    const ids: number[] = []
    for (const body of this.bodies) {
      const reply = await real.users[this.actor]!.call<ExpectedTask>('POST', path, { body })
      expect({ sent: body, status: reply.status, body: reply.body }).toEqual({
        sent: body,
        status: 201,
        body: {
          id: expect.any(Number),
          // Lists, subtasks and moves are not in this model yet: every task is top level in the default list.
          list_id: expect.any(Number),
          parent_id: null,
          position: expect.any(String),
          title: body.title.trim(),
          description: body.description ?? null,
          completed: false,
          priority: body.priority ?? 'medium',
          due_date: normalDueDate(body.due_date ?? null),
          tags: body.tags ?? [],
          created_at: expect.stringMatching(ISO),
          updated_at: expect.stringMatching(ISO),
        },
      })
      expectTaskShape(reply.body)
      expect(reply.body.updated_at).toBe(reply.body.created_at)
      // A fresh id: no user in the model holds it, and it was never deleted in this run.
      const id = reply.body.id
      expect({ id, reused: model.users.some((u) => u.tasks.has(id)) || model.gone.includes(id) }).toEqual({ id, reused: false })
      expect(reply.headers.get('location')).toBe(`${path}/${id}`)
      expect(reply.headers.get('etag')).not.toBeNull()
      store(model, this.actor, reply)
      ids.push(id)
    }
    return `${this.toString()} → 201 ids ${ids.join(', ')}`
  }
}

type Write = { kind: 'update'; method: 'PATCH' | 'PUT'; body: UpdateBody } | { kind: 'toggle' } | { kind: 'set'; completed: boolean }

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      method: fc.constantFrom('PATCH' as const, 'PUT' as const),
      body: updateBodyArb,
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'toggle' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), completed: fc.boolean() }) },
)

function describeWrite(write: Write): string {
  if (write.kind === 'update') return `${write.method} {id} ${show(write.body)}`
  if (write.kind === 'toggle') return 'PATCH {id}/complete (no body)'
  return `PATCH {id}/complete ${show({ completed: write.completed })}`
}

function sendWrite(user: User, path: string, write: Write, headers: Record<string, string>) {
  if (write.kind === 'update') return user.call<ExpectedTask>(write.method, path, { body: write.body, headers })
  if (write.kind === 'toggle') return user.call<ExpectedTask>('PATCH', `${path}/complete`, { headers })
  return user.call<ExpectedTask>('PATCH', `${path}/complete`, { body: { completed: write.completed }, headers })
}

/** The owner changes one of their tasks: update (PATCH/PUT), toggle, or set completion. */
class OwnWrite extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly write: Write,
    readonly via: 'plain' | 'alias',
    readonly ifMatch: 'none' | 'current' | '*',
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor) !== undefined
  toString = () =>
    `holder(${label(this.actor)}) ${describeWrite(this.write)} on own task[${this.pick} mod n] via ${this.via}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor)!
    const mine = model.users[actor]!
    const id = pickId(mine.tasks.keys(), this.pick)
    const before = mine.tasks.get(id)!
    const oldEtag = mine.etags.get(id)!
    const headers: Record<string, string> = this.ifMatch === 'none' ? {} : { 'if-match': this.ifMatch === '*' ? '*' : oldEtag }
    const reply = await sendWrite(real.users[actor]!, `${base(real, actor, this.via)}/${id}`, this.write, headers)
    const { updated_at: _, ...after } = before
    let changed: boolean
    if (this.write.kind === 'toggle') {
      after.completed = !before.completed
      changed = true
    } else {
      const body: UpdateBody = this.write.kind === 'set' ? { completed: this.write.completed } : this.write.body
      if (body.title !== undefined) after.title = body.title.trim()
      if (body.description !== undefined) after.description = body.description
      if (body.completed !== undefined) after.completed = body.completed
      if (body.priority !== undefined) after.priority = body.priority
      if (body.due_date !== undefined) after.due_date = normalDueDate(body.due_date)
      if (body.tags !== undefined) after.tags = body.tags
      const { updated_at: __, ...old } = before
      changed = show(old) !== show(after)
    }
    expectWrite(reply, before, oldEtag, after, changed)
    store(model, actor, reply)
    return `${label(actor)} ${describeWrite(this.write)} on own task ${id} → ${reply.status}${changed ? '' : ' (no change)'}`
  }
}

class OwnDelete extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly via: 'plain' | 'alias',
    readonly ifMatch: 'none' | 'current' | '*',
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor) !== undefined
  toString = () =>
    `holder(${label(this.actor)}) DELETE own task[${this.pick} mod n] via ${this.via}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor)!
    const mine = model.users[actor]!
    const id = pickId(mine.tasks.keys(), this.pick)
    const headers: Record<string, string> = this.ifMatch === 'none' ? {} : { 'if-match': this.ifMatch === '*' ? '*' : mine.etags.get(id)! }
    const reply = await real.users[actor]!.call('DELETE', `${base(real, actor, this.via)}/${id}`, { headers })
    expect({ status: reply.status, text: reply.text }).toEqual({ status: 204, text: '' })
    mine.tasks.delete(id)
    mine.etags.delete(id)
    model.gone.push(id)
    return `${label(actor)} DELETE own task ${id} → 204`
  }
}

class OwnGet extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  check = (model: Readonly<Model>) => holder(model, this.actor) !== undefined
  toString = () => `holder(${label(this.actor)}) GET own task[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const actor = holder(model, this.actor)!
    const mine = model.users[actor]!
    const id = pickId(mine.tasks.keys(), this.pick)
    const reply = await real.users[actor]!.call<ExpectedTask>('GET', `${base(real, actor, this.via)}/${id}`)
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: mine.tasks.get(id)! })
    expect(reply.headers.get('etag')).toBe(mine.etags.get(id)!)
    return `${label(actor)} GET own task ${id} → 200`
  }
}

/** rel → the offset and limit its target asks for. */
function pageLinks(header: string | null): Record<string, { offset: string; limit: string }> {
  const links = Object.entries(parseLinks(header)).map(([rel, { query }]) => [rel, { offset: query.offset!, limit: query.limit! }])
  return Object.fromEntries(links)
}

class List extends Step {
  constructor(
    readonly actor: number,
    readonly params: ListParams,
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  check = () => true
  query = () => new URLSearchParams(Object.entries(this.params).map(([k, v]): [string, string] => [k, String(v)])).toString()
  toString = () => `${label(this.actor)} GET list ?${this.query()} via ${this.via}`
  async step(model: Model, real: Real) {
    const query = this.query()
    const reply = await real.users[this.actor]!.call<ExpectedTask[]>(
      'GET',
      `${base(real, this.actor, this.via)}${query ? `?${query}` : ''}`,
    )
    const { rows, total } = expectedList(model.users[this.actor]!, this.params)
    expect({ status: reply.status, ids: reply.body?.map((t) => t.id) }).toEqual({ status: 200, ids: rows.map((t) => t.id) })
    expect(reply.body).toEqual(rows)
    expect(reply.headers.get('x-total-count')).toBe(String(total))
    // Link: next and prev pages where they exist, keeping the limit.
    const offset = this.params.offset ?? 0
    const limit = this.params.limit ?? 100
    const expectedLinks: Record<string, { offset: string; limit: string }> = {}
    if (offset + limit < total) expectedLinks.next = { offset: String(offset + limit), limit: String(limit) }
    if (offset > 0) expectedLinks.prev = { offset: String(Math.max(0, offset - limit)), limit: String(limit) }
    expect(pageLinks(reply.headers.get('link'))).toEqual(expectedLinks)
    return `${this.toString()} → ${rows.length} of ${total}`
  }
}

type Verb = 'GET' | 'DELETE' | Write
const verbArb: fc.Arbitrary<Verb> = fc.oneof(fc.constantFrom<Verb>('GET', 'DELETE'), writeArb)
const describeVerb = (verb: Verb) => (typeof verb === 'string' ? `${verb} {id}` : describeWrite(verb))

function sendVerb(user: User, path: string, verb: Verb, headers: Record<string, string>) {
  if (verb === 'GET') return user.call('GET', path)
  if (verb === 'DELETE') return user.call('DELETE', path, { headers })
  return sendWrite(user, path, verb, headers)
}

/**
 * The attacker aims a verb at the victim's task: by the plain route, by the
 * alias with the attacker's own id, or by the alias naming the victim (which
 * the token does not match). Always 403; checkEverything then proves nothing changed.
 */
class Attack extends Step {
  constructor(
    readonly attacker: number,
    readonly victimOffset: number,
    readonly pick: number,
    readonly verb: Verb | 'LIST',
    readonly route: 'plain' | 'alias-own' | 'alias-victim',
    readonly ifMatch: 'none' | 'victim-etag' | '*',
  ) {
    super()
  }
  preferred = () => (this.attacker + 1 + this.victimOffset) % USERS
  /** The preferred victim, or the next other user holding tasks; for LIST, always the preferred one. */
  victim = (model: Readonly<Model>) => (this.verb === 'LIST' ? this.preferred() : holder(model, this.preferred(), this.attacker))
  check = (model: Readonly<Model>) => this.verb === 'LIST' || this.victim(model) !== undefined
  toString = () =>
    this.verb === 'LIST'
      ? `${label(this.attacker)} attacks: GET /api/{${label(this.preferred())}}/tasks`
      : `${label(this.attacker)} attacks holder(${label(this.preferred())})'s task[${this.pick} mod n]: ${describeVerb(this.verb)} via ${this.route}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`}`
  async step(model: Model, real: Real) {
    const attacker = real.users[this.attacker]!
    const victimIndex = this.victim(model)!
    const victim = model.users[victimIndex]!
    if (this.verb === 'LIST') {
      // The victim's list, through the alias naming the victim (the route is moot here).
      const reply = await attacker.call('GET', `/api/${real.users[victimIndex]!.id}/tasks?limit=1000`)
      expectError(reply, 403, 'forbidden')
      return `${this.toString()} → 403`
    }
    const prefix =
      this.route === 'plain' ? '/api/tasks' : `/api/${real.users[this.route === 'alias-own' ? this.attacker : victimIndex]!.id}/tasks`
    const id = pickId(victim.tasks.keys(), this.pick)
    const headers: Record<string, string> =
      this.ifMatch === 'none' ? {} : { 'if-match': this.ifMatch === '*' ? '*' : victim.etags.get(id)! }
    const reply = await sendVerb(attacker, `${prefix}/${id}`, this.verb, headers)
    expectError(reply, 403, 'forbidden')
    expect(reply.text).not.toContain(show(victim.tasks.get(id)!.title))
    return `${label(this.attacker)} attacks ${label(victimIndex)}'s task ${id}: ${describeVerb(this.verb)} via ${this.route}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`} → 403`
  }
}

/** Any user, any verb, on an id deleted earlier in the run: 404 for owner and stranger alike. */
class OnDeleted extends Step {
  constructor(
    readonly actor: number,
    readonly pick: number,
    readonly verb: Verb,
    readonly via: 'plain' | 'alias',
  ) {
    super()
  }
  check = (model: Readonly<Model>) => model.gone.length > 0
  toString = () => `${label(this.actor)} ${describeVerb(this.verb)} on deleted id[${this.pick} mod n] via ${this.via}`
  async step(model: Model, real: Real) {
    const id = pickId(model.gone, this.pick)
    const reply = await sendVerb(real.users[this.actor]!, `${base(real, this.actor, this.via)}/${id}`, this.verb, {})
    expectError(reply, 404, 'task_not_found')
    return `${this.toString().replace('id[', `id ${id} [`)} → 404`
  }
}

const ifMatchArb = fc.constantFrom<'none' | 'current' | '*'>('none', 'none', 'current', '*')

// fc.commands picks uniformly among these: listing one twice doubles its weight.
const twice = <T>(arbitrary: T): T[] => [arbitrary, arbitrary]

const commandArbs: fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] = [
  ...twice(
    fc
      .tuple(actorArb, fc.array(createBodyArb, { minLength: 1, maxLength: 4 }), viaArb)
      .map(([a, bodies, via]) => new Create(a, bodies, via)),
  ),
  ...twice(fc.tuple(actorArb, pickArb, writeArb, viaArb, ifMatchArb).map(([a, p, w, via, m]) => new OwnWrite(a, p, w, via, m))),
  fc.tuple(actorArb, pickArb, viaArb, ifMatchArb).map(([a, p, via, m]) => new OwnDelete(a, p, via, m)),
  fc.tuple(actorArb, pickArb, viaArb).map(([a, p, via]) => new OwnGet(a, p, via)),
  ...twice(fc.tuple(actorArb, listParamsArb, viaArb).map(([a, params, via]) => new List(a, params, via))),
  ...twice(
    fc
      .tuple(
        actorArb,
        fc.integer({ min: 0, max: USERS - 2 }),
        pickArb,
        fc.oneof({ weight: 6, arbitrary: verbArb }, { weight: 1, arbitrary: fc.constant('LIST' as const) }),
        fc.constantFrom<'plain' | 'alias-own' | 'alias-victim'>('plain', 'plain', 'alias-own', 'alias-victim'),
        fc.constantFrom<'none' | 'victim-etag' | '*'>('none', 'victim-etag', '*'),
      )
      .map(([a, v, p, verb, route, m]) => new Attack(a, v, p, verb, route, m)),
  ),
  fc.tuple(actorArb, pickArb, verbArb, viaArb).map(([a, p, verb, via]) => new OnDeleted(a, p, verb, via)),
]

const numRuns = Number(process.env.FC_RUNS ?? 15)
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)

test('three users, random task operations and cross-user attacks: every list always equals the model', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.commands(commandArbs, { maxCommands: 25, size: 'max', replayPath: process.env.FC_REPLAY_PATH }),
      async (commands) => {
        const setup = async () => ({
          model: { users: Array.from({ length: USERS }, () => ({ tasks: new Map(), etags: new Map() })), gone: [] } satisfies Model,
          real: { users: await Promise.all(Array.from({ length: USERS }, (_, i) => signedInUser(label(i)))), trace: [] } satisfies Real,
        })
        await fc.asyncModelRun(setup, commands)
      },
    ),
    { numRuns, seed, path: process.env.FC_PATH },
  )
}, 180_000) // Normal runs take seconds; the margin is for shrinking a failure.
