import { mkdir } from 'node:fs/promises'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { connectionTimeouts, createGuard, guardDatabase, guarded, silentSocketCutoff } from './guard'
import { migratePgliteDatabase, migratePostgresDatabase } from './migrate'
import * as schema from './schema'

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>

export interface DatabaseHandle {
  db: Database
  kind: 'pglite' | 'postgres'
  /** Where the data lives, safe to print (no password). */
  description: string
  /** Whether PostgreSQL itself cancels statements past DATABASE_TIMEOUT_MS (see connectionTimeouts). */
  serverTimeouts: boolean
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** PostgreSQL URL; undefined opens embedded PGlite in dataDir. */
  databaseUrl: string | undefined
  dataDir: string
  poolMax: number
  prepare: boolean
  /** Deadline of one query or transaction on PostgreSQL (PGlite is in-process). */
  databaseTimeoutMs: number
  /** Told the SQL of every statement run (tests read them; nothing is logged by default). */
  onStatement?: (sql: string) => void
}

/** drizzle's logger, when someone listens: none at all otherwise, so the hot path pays nothing. */
function statementLogger(onStatement: DatabaseOptions['onStatement']) {
  return onStatement ? { logger: { logQuery: (sql: string) => onStatement(sql) } } : {}
}

/** Opens the configured database with every migration in drizzle/ applied. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl === undefined) return openPglite(options.dataDir, options.onStatement)
  await migratePostgresDatabase(options.databaseUrl)
  const serverTimeouts = await acceptsConnectionTimeouts(options.databaseUrl, options.databaseTimeoutMs)
  return connectPostgres(options.databaseUrl, options, serverTimeouts)
}

/**
 * Transaction poolers (PgBouncer, Neon's -pooler endpoints) refuse startup
 * parameters they do not track, and then every connection would fail: one
 * connection tries them first, and a refusal means connecting without.
 */
async function acceptsConnectionTimeouts(url: string, timeoutMs: number): Promise<boolean> {
  const probe = postgres(url, {
    max: 1,
    prepare: false,
    onnotice: () => {},
    connect_timeout: 10,
    connection: connectionTimeouts(timeoutMs),
  })
  try {
    await probe`select 1`
    return true
  } catch (error) {
    if (error instanceof Error && /unsupported startup parameter/i.test(error.message)) return false
    throw error
  } finally {
    await probe.end({ timeout: 1 })
  }
}

// Longer than any query of ours runs; shorter than TCP takes to notice a dead peer.
const SILENT_SOCKET_MS = 30_000

function connectPostgres(
  url: string,
  options: Pick<DatabaseOptions, 'poolMax' | 'prepare' | 'databaseTimeoutMs' | 'onStatement'>,
  serverTimeouts: boolean,
): DatabaseHandle {
  const client = postgres(url, {
    max: options.poolMax,
    prepare: options.prepare,
    onnotice: () => {},
    connect_timeout: 5,
    // Idle connections close before the silent-socket cutoff could fire on them.
    idle_timeout: 20,
    // postgres.js backs off up to 20 s after failed connects; once the database
    // is back the next request should find it, so retry within half a second.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    // A documented postgres.js option that its type definitions leave out.
    ...({ socket: silentSocketCutoff(SILENT_SOCKET_MS) } as object),
    connection: { application_name: 'todo-api', ...(serverTimeouts ? connectionTimeouts(options.databaseTimeoutMs) : {}) },
    // Task ids are bigint: read as numbers, as PGlite reads them and the API
    // answers them (drizzle's mode 'number', exact up to 2^53 - 1).
    types: { int8: { to: 20, from: [20], parse: Number, serialize: String } },
  })
  const parsed = new URL(url)
  const db = drizzlePostgres(client, { schema, ...statementLogger(options.onStatement) }) as unknown as Database
  guardDatabase(db, createGuard({ slots: options.poolMax, timeoutMs: options.databaseTimeoutMs }))
  return {
    db,
    kind: 'postgres',
    serverTimeouts,
    description: `PostgreSQL at ${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`,
    ping: async () => {
      await guarded(db, () => client`select 1`)
    },
    // Bounded: postgres.js can wait forever on a connection whose backend died,
    // and SIGTERM has already drained the requests that could still need it.
    close: () => client.end({ timeout: 1 }),
  }
}

async function openPglite(dataDir: string, onStatement?: DatabaseOptions['onStatement']): Promise<DatabaseHandle> {
  // Loaded only when used: on PostgreSQL they would take memory for nothing.
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([import('@electric-sql/pglite'), import('drizzle-orm/pglite')])
  if (!dataDir.includes('://')) await mkdir(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir)
  const db = drizzlePglite(client, { schema, ...statementLogger(onStatement) })
  await migratePgliteDatabase(db)
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    // In process: a statement cannot outlive the request that runs it.
    serverTimeouts: false,
    description: dataDir.startsWith('memory://') ? 'embedded PGlite in memory' : `embedded PGlite in ${dataDir}`,
    ping: async () => {
      await client.query('select 1')
    },
    close: () => client.close(),
  }
}
