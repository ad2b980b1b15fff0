import { Column, is, Param, Placeholder, type Query } from 'drizzle-orm'
import type { Database } from './client'

/** Sends SQL with its values to the database and answers the rows as the driver built them. */
export type RunStatement = (text: string, values: unknown[]) => Promise<Record<string, unknown>[]>

/** A statement whose SQL drizzle built once; each call binds the named values. */
export interface Statement {
  rows<Row>(values: Record<string, unknown>): Promise<Row[]>
}

const runners = new WeakMap<Database, RunStatement>()

/** How statements built on `db` reach its database (src/db/client.ts registers every database it opens). */
export function runStatementsWith(db: Database, run: RunStatement): void {
  runners.set(db, run)
}

// Each value of the built SQL becomes a function of the call's named values:
// a placeholder is looked up, a placeholder bound to a column goes through
// the column's encoder (a text[] becomes an array literal), anything else is
// a constant. drizzle's own prepared statements do the same through
// fillPlaceholders, plus entity checks, tracing spans and a cache lookup on
// every call, and then map every value of every row; on a hot request that
// was ~10 us here (in-process A/B against the same SQL sent directly).
interface Binder {
  /** Same key, same value on every call: such uses can share one parameter. */
  key: string | undefined
  bind(values: Record<string, unknown>): unknown
}

function binderOf(param: unknown): Binder {
  const placeholder = is(param, Placeholder) ? param : is(param, Param) && is(param.value, Placeholder) ? param.value : undefined
  if (!placeholder) return { key: undefined, bind: () => param }
  const name = placeholder.name
  const column = is(param, Param) && is(param.encoder, Column) ? param.encoder : undefined
  const encode = is(param, Param) ? (value: unknown) => param.encoder.mapToDriverValue(value) : (value: unknown) => value
  return {
    // Columns of one kind and SQL type encode a value alike (two text columns,
    // two text[]); a timestamp read as a string and one read as a Date do not.
    key: column ? `${name}\u0000${column.columnType}\u0000${column.getSQLType()}` : is(param, Param) ? undefined : `${name}\u0000`,
    bind: (values) => {
      if (!(name in values)) throw new Error(`No value for placeholder "${name}"`)
      return encode(values[name])
    },
  }
}

// Quoted text is skipped; only a $n outside it is a parameter.
const PARAMETER_OR_QUOTED = /'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\d+)/g

/**
 * drizzle numbers every use of a placeholder: a list bound the user id three
 * times and the limit three times (8 values where 3 do). Uses of one
 * placeholder that encode alike share one $n, so the driver serialises and
 * the server parses each value once. Answers the SQL unchanged when it does
 * not number its parameters $1..$n in order.
 */
function shareParameters(text: string, binders: Binder[]): { text: string; binders: Binder[] } {
  const slotOfKey = new Map<string, number>()
  const slotOf: number[] = []
  const shared: Binder[] = []
  for (const binder of binders) {
    const known = binder.key === undefined ? undefined : slotOfKey.get(binder.key)
    if (known !== undefined) {
      slotOf.push(known)
      continue
    }
    shared.push(binder)
    slotOf.push(shared.length)
    if (binder.key !== undefined) slotOfKey.set(binder.key, shared.length)
  }
  let seen = 0
  let inOrder = true
  const rewritten = text.replace(PARAMETER_OR_QUOTED, (match, index: string | undefined) => {
    if (index === undefined) return match
    seen++
    inOrder &&= Number(index) === seen
    return `$${slotOf[seen - 1]}`
  })
  return inOrder && seen === binders.length ? { text: rewritten, binders: shared } : { text, binders }
}

/** Turns a drizzle query (built with sql.placeholder for its values) into a Statement on db's database. */
export function compileStatement(db: Database, query: { toSQL(): Query }): Statement {
  const run = runners.get(db)
  if (!run) throw new Error('compileStatement: no database registered for this drizzle instance')
  const built = query.toSQL()
  const { text, binders } = shareParameters(built.sql, built.params.map(binderOf))
  return {
    rows: <Row>(values: Record<string, unknown>) => {
      const bound = new Array<unknown>(binders.length)
      for (let i = 0; i < binders.length; i++) bound[i] = binders[i]!.bind(values)
      return run(text, bound) as Promise<Row[]>
    },
  }
}
