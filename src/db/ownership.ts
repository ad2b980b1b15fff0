import { and, eq, type SQL, sql } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { Forbidden, PreconditionFailed } from '../errors'
import type { Database } from './client'
import { prepared } from './operations'

/** A table of user data: keyed by (user_id, id), with a version behind its ETag. */
export type OwnedTable = PgTable & { userId: PgColumn; id: PgColumn; version: PgColumn }

/** What If-Match allows: any current version (`*`), or one of these versions. */
export type Precondition = { any: true } | { versions: number[] }

/** `user_id = $userId and id = $id`: the only way a statement names one row. */
export function owned(table: OwnedTable): SQL {
  return and(eq(table.userId, sql.placeholder('userId')), eq(table.id, sql.placeholder('id')))!
}

/** The version condition If-Match adds (bound as `versions`), or none for no header or `*`. */
export function versionCheck(table: OwnedTable, precondition: Precondition | undefined): SQL | undefined {
  return precondition && 'versions' in precondition ? sql`${table.version} = any(${sql.placeholder('versions')}::int[])` : undefined
}

export function versionValues(precondition: Precondition | undefined): { versions?: number[] } {
  return precondition && 'versions' in precondition ? { versions: precondition.versions } : {}
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
