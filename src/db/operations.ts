// Every operation on the database goes through here: prepared statements
// and transactions, each run within the database's guard (src/db/guard.ts).
import type { Database } from './client'
import { DatabaseUnavailable, sqlStateOf } from './errors'
import { guarded } from './guard'

// drizzle's prepared statements belong to the database they were built on,
// and tests open several: each database keeps its own, built on first use.
const built = new WeakMap<Database, Map<string, unknown>>()

type Executable = { execute(values?: Record<string, unknown>): Promise<unknown> }

/**
 * The prepared statement `name` on `db`, built once by `build` with
 * sql.placeholder for every value. postgres.js then prepares it once per
 * connection (unless DATABASE_PREPARE=false), so its SQL is neither rebuilt
 * nor re-parsed per request. Each execution runs within the database's guard.
 */
export function prepared<Statement extends Executable>(
  db: Database,
  name: string,
  build: (name: string) => Statement,
): Pick<Statement, 'execute'> {
  let statements = built.get(db)
  if (!statements) {
    statements = new Map()
    built.set(db, statements)
  }
  let statement = statements.get(name) as Pick<Statement, 'execute'> | undefined
  if (statement === undefined) {
    const built = build(name)
    // Every execution is a guarded operation (src/db/guard.ts).
    statement = { execute: ((values) => guarded(db, () => built.execute(values))) as Statement['execute'] }
    statements.set(name, statement)
  }
  return statement
}

/** A transaction's handle, as drizzle passes it to the callback of db.transaction. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0]

// Statements for transactions, built once per database: keyed by the dialect
// a database shares with its transactions.
const builtForTransactions = new WeakMap<object, Map<string, unknown>>()

/**
 * The statement `name`, built once by `build` (with sql.placeholder for every
 * value, as for `prepared`) and run on `tx`'s connection. drizzle binds a
 * statement to the connection (`client`) it was built on, so a transaction's
 * statements would otherwise be built anew in every transaction; the one
 * built first is reused with this transaction's connection in its place.
 */
export function preparedIn<Statement extends Executable>(
  tx: Transaction,
  name: string,
  build: (name: string) => Statement,
): Pick<Statement, 'execute'> {
  const { dialect, session } = tx as unknown as { dialect: object; session: { client: unknown } }
  let statements = builtForTransactions.get(dialect)
  if (!statements) {
    statements = new Map()
    builtForTransactions.set(dialect, statements)
  }
  let statement = statements.get(name) as Statement | undefined
  if (statement === undefined) {
    statement = build(name)
    statements.set(name, statement)
  }
  return Object.create(statement, { client: { value: session.client } })
}

// A deadlock (40P01) or a serialization failure (40001) rolled the whole
// transaction back, and the one it lost to has gone on: run again at once, it
// almost always succeeds.
const ROLLED_BACK_TO_RETRY = new Set(['40P01', '40001'])

/**
 * A transaction as one guarded operation. Past its deadline it rolls back
 * rather than commit: a 503 for it then means nothing was committed. One lost
 * to a deadlock or a serialization failure runs once more within the same
 * deadline; lost again, it is a 503. Statements inside use `tx` directly:
 * they already hold the operation's slot.
 */
export function transaction<T>(db: Database, run: (tx: Transaction) => Promise<T>): Promise<T> {
  return guarded(db, async (deadline) => {
    const attempt = () =>
      db.transaction(async (tx) => {
        const result = await run(tx)
        if (performance.now() > deadline) throw new DatabaseUnavailable('timeout')
        return result
      })
    try {
      return await attempt()
    } catch (error) {
      if (!ROLLED_BACK_TO_RETRY.has(sqlStateOf(error) ?? '') || performance.now() > deadline) throw error
      return attempt()
    }
  })
}
