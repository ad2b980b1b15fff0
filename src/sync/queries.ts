// The reading side of the change feed: what changed in a user's lists and
// tasks since a cursor, or everything (a snapshot), a page at a time.
import { and, asc, eq, gt, lte, sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { prepared } from '../db/operations'
import { deletions, lists, taskQuotas, tasks } from '../db/schema'
import type { List } from '../lists/model'
import { ensureDefaultList, answerColumns as listColumns } from '../lists/queries'
import { answerColumns as taskColumns } from '../tasks/columns'
import type { Task } from '../tasks/model'
import type { Cursor, CursorKind } from './cursor'
import { CursorExpired } from './errors'

export type Change =
  | { type: 'list'; op: 'upsert'; id: number; data: List }
  | { type: 'task'; op: 'upsert'; id: number; data: Task }
  | { type: 'list' | 'task'; op: 'delete'; id: number }

/** A change with the feed position it was read at. */
type Placed = { change: Change; position: number }

const placeholder = (name: string) => sql.placeholder(name)
const KIND_ORDER: Record<CursorKind, number> = { list: 0, task: 1, end: 2 }

/** The user's feed position and how far back it still remembers deletions. */
async function feedState(db: Database, userId: string): Promise<{ position: number; forgottenThrough: number } | undefined> {
  const state = prepared(db, 'sync_state', (name) =>
    db
      .select({ position: taskQuotas.changePosition, forgottenThrough: taskQuotas.forgottenThrough })
      .from(taskQuotas)
      .where(eq(taskQuotas.userId, placeholder('userId')))
      .prepare(name),
  )
  const [found] = await state.execute({ userId })
  return found
}

/**
 * For resources of `kind` at the cursor's own position, the id after which to
 * go on: those of an earlier kind were all read, those of a later kind none.
 */
function afterIdAt(cursor: Cursor, kind: 'list' | 'task'): number {
  const order = KIND_ORDER[kind] - KIND_ORDER[cursor.kind]
  return order < 0 ? Number.MAX_SAFE_INTEGER : order === 0 ? cursor.id : 0
}

export type FeedPage = {
  changes: Change[]
  /** Where each change sits in the feed: a cursor right after it. */
  at: Cursor[]
  cursor: Cursor
  hasMore: boolean
}

/**
 * The changes after `cursor` (none: a snapshot of every list and task), at
 * most `limit`, oldest first, each resource in its latest state. Only changes
 * up to the user's position as read first are answered: every change at or
 * below it has committed (feed.ts), so paging on never skips one, and a
 * resource changed meanwhile comes again later at its new position.
 */
export async function readFeed(db: Database, userId: string, cursor: Cursor | undefined, limit: number): Promise<FeedPage> {
  let state = await feedState(db, userId)
  if (!state) {
    // A user who never wrote: their first read makes the default list, as GET /api/lists does.
    await ensureDefaultList(db, userId)
    state = (await feedState(db, userId))!
  }
  const { position: upTo, forgottenThrough } = state
  if (cursor && (cursor.position > upTo || Math.max(cursor.floor, cursor.position) < forgottenThrough)) throw new CursorExpired()
  // A snapshot starts before position 0 and needs no deletions up to now.
  const from = cursor ?? { floor: upTo, position: -1, kind: 'end' as const, id: 0 }
  const values = {
    userId,
    upTo,
    position: from.position,
    floor: from.floor,
    limit: limit + 1,
  }
  const [changedLists, changedTasks, deleted] = await Promise.all([
    changedListsQuery(db).execute({ ...values, afterId: afterIdAt(from, 'list') }),
    changedTasksQuery(db).execute({ ...values, afterId: afterIdAt(from, 'task') }),
    cursor ? deletionsQuery(db).execute({ ...values, kind: from.kind === 'end' ? 'zzz' : from.kind, afterId: from.id }) : [],
  ])
  const placed: Placed[] = [
    ...changedLists.map(({ changePosition, ...data }) => ({
      position: changePosition,
      change: { type: 'list', op: 'upsert', id: data.id, data } as const,
    })),
    ...changedTasks.map(({ changePosition, ...data }) => ({
      position: changePosition,
      change: { type: 'task', op: 'upsert', id: data.id, data } as const,
    })),
    ...deleted.map((row) => ({ position: row.position, change: { type: row.kind, op: 'delete', id: row.id } as const })),
  ]
  placed.sort((a, b) => a.position - b.position || KIND_ORDER[a.change.type] - KIND_ORDER[b.change.type] || a.change.id - b.change.id)
  const page = placed.slice(0, limit)
  const hasMore = placed.length > limit
  const last = page.at(-1)
  const next: Cursor =
    hasMore && last
      ? { floor: from.floor, position: last.position, kind: last.change.type, id: last.change.id }
      : { floor: upTo, position: upTo, kind: 'end', id: 0 }
  return {
    changes: page.map((entry) => entry.change),
    at: page.map((entry) => ({ floor: from.floor, position: entry.position, kind: entry.change.type, id: entry.change.id })),
    cursor: next,
    hasMore,
  }
}

// (position, id) after the cursor, up to the position read first, in feed order.
const window = (table: typeof lists | typeof tasks) =>
  and(
    eq(table.userId, placeholder('userId')),
    sql`(${table.changePosition}, ${table.id}) > (${placeholder('position')}, ${placeholder('afterId')})`,
    lte(table.changePosition, placeholder('upTo')),
  )

function changedListsQuery(db: Database) {
  return prepared(db, 'sync_lists', (name) =>
    db
      .select({ ...listColumns, changePosition: lists.changePosition })
      .from(lists)
      .where(window(lists))
      .orderBy(asc(lists.changePosition), asc(lists.id))
      .limit(placeholder('limit'))
      .prepare(name),
  )
}

function changedTasksQuery(db: Database) {
  return prepared(db, 'sync_tasks', (name) =>
    db
      .select({ ...taskColumns, changePosition: tasks.changePosition })
      .from(tasks)
      .where(window(tasks))
      .orderBy(asc(tasks.changePosition), asc(tasks.id))
      .limit(placeholder('limit'))
      .prepare(name),
  )
}

function deletionsQuery(db: Database) {
  return prepared(db, 'sync_deletions', (name) =>
    db
      .select({ kind: deletions.kind, id: deletions.id, position: deletions.changePosition })
      .from(deletions)
      .where(
        and(
          eq(deletions.userId, placeholder('userId')),
          sql`(${deletions.changePosition}, ${deletions.kind}, ${deletions.id}) > (${placeholder('position')}, ${placeholder('kind')}, ${placeholder('afterId')})`,
          gt(deletions.changePosition, placeholder('floor')),
          lte(deletions.changePosition, placeholder('upTo')),
        ),
      )
      .orderBy(asc(deletions.changePosition), asc(deletions.kind), asc(deletions.id))
      .limit(placeholder('limit'))
      .prepare(name),
  )
}
