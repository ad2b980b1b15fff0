import type { Database } from './client'

// drizzle's prepared statements belong to the database they were built on,
// and tests open several: each database keeps its own, built on first use.
const built = new WeakMap<Database, Map<string, unknown>>()

/**
 * The prepared statement `name` on `db`, built once by `build` with
 * sql.placeholder for every value. postgres.js then prepares it once per
 * connection (unless DATABASE_PREPARE=false), so its SQL is neither rebuilt
 * nor re-parsed per request.
 */
export function prepared<Statement>(db: Database, name: string, build: (name: string) => Statement): Statement {
  let statements = built.get(db)
  if (!statements) {
    statements = new Map()
    built.set(db, statements)
  }
  let statement = statements.get(name) as Statement | undefined
  if (statement === undefined) {
    statement = build(name)
    statements.set(name, statement)
  }
  return statement
}
