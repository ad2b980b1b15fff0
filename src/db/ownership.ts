import { and, eq, type SQL, sql } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { Forbidden, PreconditionFailed } from '../errors'
import type { Database } from './client'
import { prepared } from './operations'

/** A table of user data: keyed by (user_id, id). */
export type OwnedTable = PgTable & { userId: PgColumn; id: PgColumn }

/**
 * What If-Match allows: any current state (`*`), or one of these states. A
 * resource's state is what its ETag covers: its version, then whatever else
 * of its answer changes without its row (a list's open count).
 */
export type Precondition = { any: true } | { states: number[][] }

/** `user_id = $userId and id = $id`: the only way a statement names one row. */
export function owned(table: OwnedTable): SQL {
  return and(eq(table.userId, sql.placeholder('userId')), eq(table.id, sql.placeholder('id')))!
}

/** Whether a resource in `state` meets the precondition (no If-Match, `*`, or one of its states). */
export function meets(precondition: Precondition | undefined, state: number[]): boolean {
  if (!precondition || 'any' in precondition) return true
  return precondition.states.some((named) => named.length === state.length && named.every((part, i) => part === state[i]))
}

/**
 * The condition If-Match adds to a statement whose row's state is `state`
 * (bound as state0, state1, ...; see stateValues), or none for no header or `*`.
 */
export function stateCheck(state: (PgColumn | SQL)[], precondition: Precondition | undefined): SQL | undefined {
  if (!precondition || 'any' in precondition) return undefined
  const named = state.map((_, i) => sql`${sql.placeholder(`state${i}`)}::int[]`)
  if (state.length === 1) return sql`${state[0]} = any(${named[0]})`
  return sql`(${sql.join(state, sql`, `)}) in (select * from unnest(${sql.join(named, sql`, `)}))`
}

/** The values stateCheck binds: the named states of that width, one array per part. */
export function stateValues(precondition: Precondition | undefined, width = 1): Record<string, number[]> {
  if (!precondition || 'any' in precondition) return {}
  const states = precondition.states.filter((named) => named.length === width)
  return Object.fromEntries(Array.from({ length: width }, (_, i) => [`state${i}`, states.map((named) => named[i]!)]))
}

/**
 * After an owner-scoped statement found nothing: 404 when no row has this id,
 * 403 when it is another user's, 412 when If-Match no longer matches. The
 * id-only lookup is the one statement on user data that does not filter by
 * user_id: it must see other users' rows to tell 403 from 404, and answers
 * only whether the row is the caller's.
 */
export async function explainMissing(
  db: Database,
  table: OwnedTable,
  resource: { name: string; notFound: () => Error },
  userId: string,
  id: number,
  precondition?: Precondition,
): Promise<never> {
  const lookup = prepared(db, `${resource.name}_owner`, (name) =>
    db
      .select({ mine: sql<boolean>`${table.userId} = ${sql.placeholder('userId')}` })
      .from(table)
      .where(eq(table.id, sql.placeholder('id')))
      .limit(1)
      .prepare(name),
  )
  const [existing] = await lookup.execute({ userId, id })
  if (!existing) throw resource.notFound()
  if (!existing.mine) throw new Forbidden(`This ${resource.name} belongs to another user`)
  if (precondition) throw new PreconditionFailed(resource.name)
  throw resource.notFound() // deleted between the two statements
}
