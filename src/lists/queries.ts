import { and, asc, eq, type SQL, sql } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { Database } from '../db/client'
import { sqlStateOf } from '../db/errors'
import { prepared, transaction } from '../db/operations'
import { explainMissing, owned, type Precondition, stateCheck, stateValues } from '../db/ownership'
import { lists, taskQuotas, tasks } from '../db/schema'
import { advance, advancing, positionColumn, stamp } from '../sync/feed'
import { ListNotFound } from './errors'
import type { List, ListModel } from './model'

export const DEFAULT_LIST_NAME = 'Inbox'
// The first key fractional-indexing gives: the default list is made before any other.
const FIRST_POSITION = 'a0'

type UpdateInput = typeof ListModel.update.static

const placeholder = (name: string) => sql.placeholder(name)

// Timestamps leave PostgreSQL as ISO 8601 strings, as tasks' do.
const iso = (column: PgColumn) => sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/** What every statement returns: the answer's fields (never user_id), in the answer's order. */
export const answerColumns = {
  id: lists.id,
  name: lists.name,
  color: lists.color,
  is_default: lists.isDefault,
  position: lists.position,
  // Spelt out with table names: drizzle leaves the columns of a one-table
  // select (or RETURNING) unqualified, and inside the subquery they would name
  // the subquery's own table. Served by the sibling-position index's (user_id, list_id) prefix.
  open_count: sql<number>`(select count(*)::int from ${tasks} as counted
    where counted.user_id = "lists"."user_id" and counted.list_id = "lists"."id" and not counted.completed)`,
  created_at: iso(lists.createdAt),
  updated_at: iso(lists.updatedAt),
}

/** A list as stored: the answer, plus the version behind its ETag. */
export type ListRow = List & { version: number }
export const rowColumns = { ...answerColumns, version: lists.version }

/**
 * What a list's ETag covers, and If-Match compares: its version, which every
 * change of the list's row moves, and its open count, which tasks change
 * without touching that row. Together they change whenever the answer does.
 */
const STATE = ['version', 'open_count'] as const
export const listState = (list: Pick<ListRow, (typeof STATE)[number]>) => STATE.map((part) => list[part])
// The same state in SQL, for If-Match checks inside a statement.
const stateInSql = STATE.map((part) => rowColumns[part])

/** The answer without the version, which travels in the ETag header instead. */
export function toList({ version: _, ...list }: ListRow): List {
  return list
}

export const listResource = { name: 'list', notFound: () => new ListNotFound() }

/**
 * Makes the user's default list unless it exists, counting it in the user's
 * list quota. Two first requests racing make one: the partial unique index
 * on (user_id) where is_default settles it, and the loser does nothing. One
 * statement without the user's lock, so that a first burst of requests does
 * not queue on it; the winner then stamps the list in the feed.
 */
export async function ensureDefaultList(db: Database, userId: string): Promise<void> {
  const made = db.$with('made').as(
    db
      .insert(lists)
      .values({ userId, name: DEFAULT_LIST_NAME, isDefault: true, position: FIRST_POSITION })
      .onConflictDoNothing({ target: lists.userId, where: sql`${lists.isDefault}` })
      .returning({ id: lists.id, userId: lists.userId }),
  )
  const counted = db.$with('counted').as(
    db
      .insert(taskQuotas)
      .select(
        db
          .select({
            userId: made.userId,
            taskCount: sql`0`.as('task_count'),
            listCount: sql`1`.as('list_count'),
            changePosition: sql`0`.as('change_position'),
            forgottenThrough: sql`0`.as('forgotten_through'),
          })
          .from(made),
      )
      .onConflictDoUpdate({ target: taskQuotas.userId, set: { listCount: sql`${taskQuotas.listCount} + 1` } })
      .returning({ userId: taskQuotas.userId }),
  )
  let id: number | undefined
  try {
    ;[{ id } = { id: undefined }] = await db.with(made, counted).select({ id: made.id }).from(made)
  } catch (error) {
    // Both racers can pass ON CONFLICT's first look before either has
    // inserted; the later one then meets the earlier one's row in the
    // position index (not the arbiter), a 23505: the default list exists.
    if (sqlStateOf(error) !== '23505') throw error
  }
  if (id === undefined) return
  // Until stamped the list sits at position 0, where only a full snapshot sees it.
  await transaction(db, async (tx) => {
    await advance(tx, userId)
    await tx
      .update(lists)
      .set({ changePosition: stamp(userId) })
      .where(and(eq(lists.userId, userId), eq(lists.id, id)))
  })
}

/** Where a new top-level task of the default list goes: that list, after its last top-level task. */
export async function defaultPlacement(db: Database, userId: string): Promise<{ listId: number; last: string | null }> {
  const placement = prepared(db, 'lists_default_placement', (name) =>
    db
      .select({
        listId: lists.id,
        // Spelt out with a table alias: drizzle leaves the columns of a
        // one-table select unqualified, and inside the subquery they would
        // name the subquery's own table.
        last: sql<string | null>`(select sibling.position from ${tasks} as sibling
          where sibling.user_id = ${placeholder('userId')} and sibling.list_id = "lists"."id" and coalesce(sibling.parent_id, 0) = 0
          order by sibling.position desc limit 1)`,
      })
      .from(lists)
      .where(and(eq(lists.userId, placeholder('userId')), eq(lists.isDefault, sql`true`)))
      .prepare(name),
  )
  const [found] = await placement.execute({ userId })
  if (found) return found
  await ensureDefaultList(db, userId)
  const [made] = await placement.execute({ userId })
  return made!
}

/**
 * Every list of the user, in the user's order, and the feed position they
 * are at (for the ETag); the first call makes the default list.
 */
export async function listLists(db: Database, userId: string): Promise<{ lists: List[]; position: number }> {
  const all = prepared(db, 'lists_list', (name) =>
    db
      .select({ list: answerColumns, position: positionColumn(placeholder('userId')) })
      .from(lists)
      .where(eq(lists.userId, placeholder('userId')))
      .orderBy(asc(lists.position), asc(lists.id))
      .prepare(name),
  )
  let found = await all.execute({ userId })
  if (found.length === 0) {
    // The default list cannot be deleted: a user without lists has never had one.
    await ensureDefaultList(db, userId)
    found = await all.execute({ userId })
  }
  return { lists: found.map((row) => row.list), position: found[0]?.position ?? 0 }
}

export async function getList(db: Database, userId: string, id: number): Promise<ListRow> {
  const get = prepared(db, 'lists_get', (name) => db.select(rowColumns).from(lists).where(owned(lists)).prepare(name))
  const [row] = await get.execute({ userId, id })
  return row ?? explainMissing(db, lists, listResource, userId, id)
}

const WRITABLE = ['name', 'color'] as const
const COLUMN_OF = { name: lists.name, color: lists.color }

/**
 * Applies the given fields. `version` and `updated_at` move only when a value
 * really changes, so repeating a write is idempotent and keeps its ETag.
 */
export async function updateList(
  db: Database,
  userId: string,
  id: number,
  changes: UpdateInput,
  precondition?: Precondition,
): Promise<ListRow> {
  const fields = WRITABLE.filter((field) => changes[field] !== undefined)
  const check = stateCheck(stateInSql, precondition)
  const update = prepared(db, `lists_update_${fields.join('_')}_${Boolean(check)}`, (name) => {
    const changed: SQL = fields.length
      ? sql.join(
          fields.map((field) => sql`${COLUMN_OF[field]} is distinct from ${sql.param(placeholder(field), COLUMN_OF[field])}`),
          sql` or `,
        )
      : sql`false`
    const advanced = advancing(db, placeholder('userId'))
    const position = sql`(select change_position from ${advanced})`
    return (
      db
        .with(advanced)
        .update(lists)
        .set({
          ...Object.fromEntries(fields.map((field) => [field, placeholder(field)])),
          version: sql`case when ${changed} then ${lists.version} + 1 else ${lists.version} end`,
          updatedAt: sql`case when ${changed} then now() else ${lists.updatedAt} end`,
          changePosition: sql`case when ${changed} then ${position} else ${lists.changePosition} end`,
        })
        // Gated on the user's row first, as every write is (src/sync/feed.ts).
        .where(and(sql`${position} is not null`, owned(lists), check))
        .returning(rowColumns)
        .prepare(name)
    )
  })
  const [row] = await update.execute({ userId, id, ...changes, ...stateValues(precondition, STATE.length) })
  return row ?? explainMissing(db, lists, listResource, userId, id, precondition)
}
