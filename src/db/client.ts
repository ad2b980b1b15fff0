import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { migratePgliteDatabase, migratePostgresDatabase } from './migrate'
import * as schema from './schema'

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>

export interface DatabaseHandle {
  db: Database
  kind: 'pglite' | 'postgres'
  /** Where the data lives, safe to print (no password). */
  description: string
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
}

/** Opens the configured database with every migration in drizzle/ applied. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl === undefined) return openPglite(options.dataDir)
  await migratePostgresDatabase(options.databaseUrl)
  return connectPostgres(options.databaseUrl, options)
}

function connectPostgres(url: string, options: Pick<DatabaseOptions, 'poolMax' | 'prepare'>): DatabaseHandle {
  const client = postgres(url, {
    max: options.poolMax,
    prepare: options.prepare,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    connection: { application_name: 'todo-api' },
  })
  const parsed = new URL(url)
  return {
    db: drizzlePostgres(client, { schema }) as unknown as Database,
    kind: 'postgres',
    description: `PostgreSQL at ${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`,
    ping: async () => {
      await client`select 1`
    },
    // Bounded: postgres.js can wait forever on a connection whose backend died.
    close: () => client.end({ timeout: 5 }),
  }
}

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  if (!dataDir.includes('://')) await mkdir(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir)
  const db = drizzlePglite(client, { schema })
  await migratePgliteDatabase(db)
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    description: dataDir.startsWith('memory://') ? 'embedded PGlite in memory' : `embedded PGlite in ${dataDir}`,
    ping: async () => {
      await client.query('select 1')
    },
    close: () => client.close(),
  }
}
