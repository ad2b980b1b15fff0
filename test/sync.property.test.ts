// Model-based property of sync (CONTRACT.md, Sync): two users, each with two
// to four clients keeping a replica of their lists and tasks. Clients write
// concurrently (creates, updates, toggles, moves, subtasks, deletes, list
// deletes with their tasks), page through GET /api/sync from their latest
// cursor (also while others write), again from an older cursor they once held,
// or from no cursor into a fresh replica, and retry writes with an
// Idempotency-Key. The server is the model: a client that has paged to the end
// with nothing written meanwhile equals GET /api/lists + GET /api/tasks, and at
// the end of every run every client does. Each answer is checked too: no
// resource twice, only the user's own ids, oldest change first (by the feed
// positions in the database), a full page whenever has_more, cursors that
// only move forward, and paging that ends. fast-check prints the seed and path
// of a failure; replay one with FC_SEED=<seed> FC_PATH=<path> (and
// FC_REPLAY_PATH=<replayPath>); FC_RUNS=<n> runs more than the default.
import { expect, test } from 'bun:test'
import { and, eq, inArray } from 'drizzle-orm'
import fc from 'fast-check'
import { deletions, lists, tasks } from '../src/db/schema'
import { type Cursor, cursorCodec } from '../src/sync/cursor'
import { traced } from './property-trace'
import { type Change, expectSameAsServer, keyOf, Replica, type SyncAnswer, serverState, sync } from './replica'
import { database, type Reply, secret, signedInUser, type User } from './support'
import { createdKind, describeRequest, type Ids, type Request, requestOf, send, type Write, writeArb } from './sync-writes'

const USERS = 2
const cursors = cursorCodec(secret)
// Far past what a run writes: more pages than this means has_more never ends.
const MAX_PAGES = 2_000

interface Client {
  replica: Replica
  /** Every cursor this client was given, oldest first. */
  held: string[]
}

interface Account {
  user: User
  clients: Client[]
  /** Keys of every list and task this user ever made (from the create answers, and the default list). */
  own: Set<string>
  /** Keys every sync answer of this user named (changes, and the lists and parents their tasks name). */
  named: Set<string>
}

/** How many clients each user has, and how many cursors each client holds: what `check` needs. */
interface Model {
  held: number[][]
}

interface Real {
  accounts: Account[]
  /** What this run did, with the ids resolved: attached to a failure. */
  trace: string[]
}

const KIND_ORDER = { list: 0, task: 1, end: 2 } as const
const order = (cursor: Pick<Cursor, 'position' | 'kind' | 'id'>) => [cursor.position, KIND_ORDER[cursor.kind], cursor.id]
/** Whether feed place `a` comes strictly before `b`. */
function before(a: number[], b: number[]): boolean {
  const i = a.findIndex((x, j) => x !== b[j])
  return i !== -1 && a[i]! < b[i]!
}

/** Where each change sits in the feed now (only meaningful while nothing is written). */
async function feedPlaces(userId: string, changes: Change[]): Promise<number[][]> {
  const ids = (type: Change['type'], op: Change['op']) => changes.filter((c) => c.type === type && c.op === op).map((c) => c.id)
  const positions = new Map<string, number>()
  for (const [type, table] of [
    ['list', lists],
    ['task', tasks],
  ] as const) {
    const upserted = ids(type, 'upsert')
    if (upserted.length > 0)
      for (const row of await database.db
        .select({ id: table.id, position: table.changePosition })
        .from(table)
        .where(and(eq(table.userId, userId), inArray(table.id, upserted))))
        positions.set(`upsert ${keyOf(type, row.id)}`, row.position)
    const deleted = ids(type, 'delete')
    if (deleted.length > 0)
      for (const row of await database.db
        .select({ id: deletions.id, position: deletions.changePosition })
        .from(deletions)
        .where(and(eq(deletions.userId, userId), eq(deletions.kind, type), inArray(deletions.id, deleted))))
        positions.set(`delete ${keyOf(type, row.id)}`, row.position)
  }
  return changes.map((c) => [positions.get(`${c.op} ${keyOf(c.type, c.id)}`) ?? Number.NaN, KIND_ORDER[c.type], c.id])
}

/** The invariants of one answer, given the cursor it was asked with. */
async function checkAnswer(account: Account, answer: SyncAnswer, from: Cursor | undefined, limit: number, quiet: boolean) {
  const keys = answer.changes.map((c) => keyOf(c.type, c.id))
  expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([])
  for (const change of answer.changes) {
    account.named.add(keyOf(change.type, change.id))
    if (change.op === 'delete') expect(change.data).toBeUndefined()
    else {
      expect(change.data).toMatchObject({ id: change.id })
      expect(change.data).not.toHaveProperty('user_id')
      if (change.type === 'task') {
        account.named.add(keyOf('list', change.data!.list_id as number))
        if (change.data!.parent_id !== null) account.named.add(keyOf('task', change.data!.parent_id as number))
      }
    }
  }
  if (answer.has_more) expect(answer.changes).toHaveLength(limit)
  const next = cursors.decode(account.user.id, answer.cursor)
  expect(next.kind === 'end').toBe(!answer.has_more)
  // Cursors only move forward.
  if (from) expect(before(order(next), order(from))).toBe(false)
  if (!quiet) return
  // Oldest change first, the first after the cursor asked with; the cursor
  // answered is the last change's own place when more wait, else past it.
  const places = await feedPlaces(account.user.id, answer.changes)
  const chain = [from ? order(from) : [-1, 0, 0], ...places]
  const misplaced = answer.changes.filter((_, i) => places[i]!.some(Number.isNaN) || !before(chain[i]!, places[i]!))
  expect({ misplaced, places }).toEqual({ misplaced: [], places })
  const last = places.at(-1)
  if (answer.has_more) expect(order(next)).toEqual(last!)
  else if (last) expect(before(last, order(next))).toBe(true)
}

/**
 * Pages from `from` (none: a snapshot) into the client's replica until
 * has_more is false, `limit` changes a page; the client keeps every cursor.
 * `quiet`: nothing is written meanwhile, so the feed positions can be checked
 * and the replica must end equal to the server's state. Returns the pages.
 */
async function pageThrough(account: Account, client: Client, from: string | undefined, limit: number, quiet: boolean): Promise<number> {
  let cursor = from
  for (let pages = 1; ; pages++) {
    const answer = await sync(account.user, cursor, limit)
    await checkAnswer(account, answer, cursor === undefined ? undefined : cursors.decode(account.user.id, cursor), limit, quiet)
    client.replica.apply(answer.changes)
    client.held.push(answer.cursor)
    cursor = answer.cursor
    if (!answer.has_more) {
      client.replica.cursor = cursor
      if (quiet) await expectSameAsServer(account.user, client.replica)
      return pages
    }
    if (pages === MAX_PAGES) throw new Error(`has_more is still true after ${pages} pages of ${limit}`)
  }
}

async function idsOf(user: User): Promise<Ids> {
  const state = [...(await serverState(user)).values()]
  const byKind = (test: (item: Record<string, unknown>) => boolean) => state.filter(test).map((item) => item.id as number)
  const ids = (kind: 'lists' | 'tasks') => byKind((item) => 'list_id' in item === (kind === 'tasks')).sort((a, b) => a - b)
  return { lists: ids('lists'), tasks: ids('tasks'), defaultList: byKind((item) => item.is_default === true)[0]! }
}

// What a write may answer when others run at once: its target may be gone,
// a move may no longer fit, the default list refuses to go. Never a 5xx.
const EXPECTED_ERRORS: Record<number, string[]> = {
  404: ['task_not_found', 'list_not_found'],
  409: ['default_list'],
  422: ['validation_error'],
}

function expectAnswer(request: Request, reply: Reply) {
  const ok = [200, 201, 204].includes(reply.status) || EXPECTED_ERRORS[reply.status]?.includes(reply.body?.code)
  expect({ request: describeRequest(request), status: reply.status, body: reply.body, ok }).toMatchObject({ ok: true })
}

function noteCreated(account: Account, request: Request, reply: Reply) {
  if (reply.status === 201) account.own.add(keyOf(createdKind(request), reply.body.id))
}

// ---------------------------------------------------------------------------
// Commands

const clientOf = (model: Readonly<Model>, user: number, client: number) => client % model.held[user]!.length

abstract class Step implements fc.AsyncCommand<Model, Real> {
  abstract check(model: Readonly<Model>): boolean
  abstract toString(): string
  /** Does the step and checks it; returns the trace line. */
  protected abstract step(model: Model, real: Real): Promise<string>

  run(model: Model, real: Real): Promise<void> {
    return traced(
      real.trace,
      this.toString(),
      () => this.step(model, real),
      () => {
        expectOnlyOwnIds(real)
        model.held = real.accounts.map((account) => account.clients.map((client) => client.held.length))
      },
    )
  }
}

/** Every id a user's sync ever named is one of theirs, and none is another user's. */
function expectOnlyOwnIds(real: Real) {
  for (const [i, account] of real.accounts.entries()) {
    const others = real.accounts.filter((_, j) => j !== i)
    const named = [...account.named]
    expect({ user: i, notOwn: named.filter((key) => !account.own.has(key)) }).toEqual({ user: i, notOwn: [] })
    expect({ user: i, others: named.filter((key) => others.some((other) => other.own.has(key))) }).toEqual({ user: i, others: [] })
  }
}

type Syncing = { client: number; limit: number }

/**
 * Several clients of one user write at once (a client's write is the user's:
 * they share the token), while some clients may page through sync; then one
 * client catches up and equals the server (a write that leaves something
 * unstamped shows here, before a later write of the same list or task hides it).
 */
class Concurrent extends Step {
  constructor(
    readonly user: number,
    readonly writes: Write[],
    readonly syncing: Syncing[],
    readonly then: Syncing,
  ) {
    super()
  }
  check = () => true
  toString = () =>
    `user ${this.user}: at once ${this.writes.map((write) => JSON.stringify(write)).join('; ')}${this.syncing.map((s) => `; client ${s.client} syncs by ${s.limit}`).join('')}; then client ${this.then.client} catches up by ${this.then.limit}`
  async step(model: Model, real: Real) {
    const account = real.accounts[this.user]!
    const ids = await idsOf(account.user)
    const requests = this.writes.map((write) => requestOf(write, ids))
    // One sync at a time per client: a client does not page into its replica twice at once.
    const syncing = new Map(this.syncing.map(({ client, limit }) => [clientOf(model, this.user, client), limit]))
    const syncers = [...syncing].map(([client, limit]) => {
      const syncer = account.clients[client]!
      return pageThrough(account, syncer, syncer.replica.cursor, limit, false)
    })
    const [replies] = await Promise.all([
      Promise.all(requests.map((request) => (request === undefined ? undefined : send(account.user, request)))),
      Promise.all(syncers),
    ])
    const done = requests.map((request, i) => {
      if (request === undefined) return 'skipped (no task)'
      const reply = replies[i]!
      expectAnswer(request, reply)
      noteCreated(account, request, reply)
      return `${describeRequest(request)} → ${reply.status}${reply.status === 201 ? ` id ${reply.body.id}` : ''}`
    })
    const then = clientOf(model, this.user, this.then.client)
    const pages = await pageThrough(account, account.clients[then]!, account.clients[then]!.replica.cursor, this.then.limit, true)
    return `user ${this.user}: at once ${done.join('; ')}${syncing.size ? ` while client(s) ${[...syncing.keys()].join(', ')} synced` : ''}; then client ${then} caught up in ${pages} page(s)`
  }
}

/**
 * A client syncs, `limit` a page, with nothing written meanwhile: from its
 * latest cursor (none yet: a snapshot); again from a cursor it held earlier,
 * over what it has since; or from no cursor into a fresh replica. Each way it
 * ends equal to the server's state.
 */
class Sync extends Step {
  constructor(
    readonly user: number,
    readonly client: number,
    readonly from: { start: 'latest' } | { start: 'older'; pick: number } | { start: 'snapshot' },
    readonly limit: number,
  ) {
    super()
  }
  check = (model: Readonly<Model>) => this.from.start !== 'older' || model.held[this.user]![clientOf(model, this.user, this.client)]! > 0
  toString = () => `user ${this.user} client ${this.client}: sync from ${this.describeStart()} by ${this.limit}`
  describeStart = (held?: number) => {
    if (this.from.start === 'latest') return 'its latest cursor'
    if (this.from.start === 'snapshot') return 'no cursor into a fresh replica'
    return `its cursor[${this.from.pick} ${held === undefined ? 'mod n' : `= ${this.from.pick % held} of ${held}`}]`
  }
  async step(model: Model, real: Real) {
    const account = real.accounts[this.user]!
    const client = account.clients[clientOf(model, this.user, this.client)]!
    const held = client.held.length
    let from = client.replica.cursor
    if (this.from.start === 'older') from = client.held[this.from.pick % held]
    if (this.from.start === 'snapshot') {
      client.replica = new Replica()
      from = undefined
    }
    const pages = await pageThrough(account, client, from, this.limit, true)
    return `user ${this.user} client ${this.client}: sync from ${this.describeStart(held)} by ${this.limit}: ${pages} page(s)`
  }
}

/** A write sent twice with one Idempotency-Key, one after the other or at once: it happens once. */
class Retry extends Step {
  constructor(
    readonly user: number,
    readonly write: Write,
    readonly atOnce: boolean,
  ) {
    super()
  }
  check = () => true
  toString = () => `user ${this.user}: ${JSON.stringify(this.write)} twice with one Idempotency-Key${this.atOnce ? ', at once' : ''}`
  async step(_model: Model, real: Real) {
    const account = real.accounts[this.user]!
    const request = requestOf(this.write, await idsOf(account.user))
    if (request === undefined) return `${this.toString()}: skipped (no task)`
    const headers = { 'idempotency-key': `retry-${crypto.randomUUID()}` }
    const stateBefore = await serverState(account.user)
    let replies = this.atOnce
      ? await Promise.all([send(account.user, request, headers), send(account.user, request, headers)])
      : [await send(account.user, request, headers), await send(account.user, request, headers)]
    // The one that met the other still running waits until then; it is over now.
    const inFlight = replies.filter((reply) => reply.status === 409 && reply.body?.code === 'idempotency_key_in_flight').length
    replies = await Promise.all(
      replies.map((reply) =>
        reply.status === 409 && reply.body?.code === 'idempotency_key_in_flight' ? send(account.user, request, headers) : reply,
      ),
    )
    const replayed = replies.map((reply) => reply.headers.get('idempotent-replayed'))
    const [first, again] = replayed[0] === null ? replies : [replies[1]!, replies[0]!]
    expectAnswer(request, first!)
    expect({ replayed: replayed.toSorted() }).toEqual({ replayed: ['true', null].toSorted() })
    expect([again!.status, again!.text, again!.headers.get('etag')]).toEqual([first!.status, first!.text, first!.headers.get('etag')])
    noteCreated(account, request, first!)

    const stateAfter = await serverState(account.user)
    const key = first!.status === 201 ? keyOf(createdKind(request), first!.body.id) : undefined
    // Made once: exactly one resource more than before.
    if (key) expect([...stateAfter.keys()].filter((k) => !stateBefore.has(k))).toEqual([key])
    // Toggled once: the opposite of before.
    if (this.write.op === 'toggle task' && first!.status === 200)
      expect(stateAfter.get(keyOf('task', first!.body.id))?.completed).toBe(!stateBefore.get(keyOf('task', first!.body.id))?.completed)
    // The resource is as the first answer left it.
    if (first!.status === 200 || first!.status === 201) {
      const kind = request.path.startsWith('/api/lists') ? 'list' : 'task'
      expect(stateAfter.get(keyOf(kind, first!.body.id))).toEqual(first!.body)
    }
    return `user ${this.user}: ${describeRequest(request)} twice${this.atOnce ? ' at once' : ''} → ${first!.status}${inFlight ? ' (one 409 in flight, then replayed)' : ', replayed'}`
  }
}

/** Every client of every user pages to the end, `limit` a page, and equals the server's state. */
class Converge extends Step {
  constructor(readonly limit: number) {
    super()
  }
  check = () => true
  toString = () => `every client catches up by ${this.limit}`
  async step(_model: Model, real: Real) {
    for (const account of real.accounts)
      for (const client of account.clients) await pageThrough(account, client, client.replica.cursor, this.limit, true)
    return this.toString()
  }
}

// ---------------------------------------------------------------------------
// The property

/** A user's lists and tasks before the clients start: a second list, trees of tasks in both. Returns their keys. */
async function prepare(user: User): Promise<Set<string>> {
  const created = async (path: string, body: Record<string, unknown>) => {
    const reply = await user.call('POST', path, { body })
    expect(reply.status).toBe(201)
    return reply.body.id as number
  }
  const work = await created('/api/lists', { name: 'Work' })
  const parent = await created('/api/tasks', { title: 'parent' })
  const child = await created('/api/tasks', { title: 'child', parent_id: parent })
  await created('/api/tasks', { title: 'grandchild', parent_id: child })
  const atWork = await created('/api/tasks', { title: 'at work', list_id: work })
  await created('/api/tasks', { title: 'its child', parent_id: atWork })
  return new Set((await serverState(user)).keys())
}

const userArb = fc.nat({ max: USERS - 1 })
const clientArb = fc.nat({ max: 3 })
// Mostly small pages: paging through a delta is where a change could slip between two pages.
const limitArb = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, fc.constant(500))

// fc.commands picks uniformly among these: listing one twice doubles its weight.
const commandArbs: fc.Arbitrary<fc.AsyncCommand<Model, Real>>[] = [
  ...[1, 2, 3].map(() =>
    fc
      .tuple(
        userArb,
        fc.array(writeArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ client: clientArb, limit: fc.integer({ min: 1, max: 4 }) }), { maxLength: 2 }),
        fc.record({ client: clientArb, limit: limitArb }),
      )
      .map(([user, writes, syncing, then]) => new Concurrent(user, writes, syncing, then)),
  ),
  ...[
    fc.constant({ start: 'latest' as const }),
    fc.record({ start: fc.constant('older' as const), pick: fc.nat() }),
    fc.constant({ start: 'snapshot' as const }),
  ].map((from) => fc.tuple(userArb, clientArb, from, limitArb).map(([user, client, from, limit]) => new Sync(user, client, from, limit))),
  fc.tuple(userArb, writeArb, fc.boolean()).map(([user, write, atOnce]) => new Retry(user, write, atOnce)),
  limitArb.map((limit) => new Converge(limit)),
]

const numRuns = Number(process.env.FC_RUNS ?? 12)
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)

test(
  'clients of one user write at once and sync from any cursor they held: every client converges to the server',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 2, max: 4 }), { minLength: USERS, maxLength: USERS }),
        fc.commands(commandArbs, { maxCommands: 25, size: 'max', replayPath: process.env.FC_REPLAY_PATH }),
        limitArb,
        async (clientCounts, commands, finalLimit) => {
          const accounts: Account[] = await Promise.all(
            clientCounts.map(async (count, i) => {
              const user = await signedInUser(`sync${i}`)
              const own = await prepare(user)
              return {
                user,
                clients: Array.from({ length: count }, () => ({ replica: new Replica(), held: [] })),
                own,
                named: new Set<string>(),
              }
            }),
          )
          const real: Real = { accounts, trace: [] }
          await fc.asyncModelRun(() => ({ model: { held: clientCounts.map((count) => Array(count).fill(0)) }, real }), commands)
          await new Converge(finalLimit).run({ held: [] }, real)
        },
      ),
      { numRuns, seed, path: process.env.FC_PATH },
    )
  },
  Math.max(300_000, numRuns * 10_000),
) // A run takes a second or two; the margin is for shrinking a failure.
