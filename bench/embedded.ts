// Embedded mode: the service on PGlite, as a newcomer runs it with no
// DATABASE_URL; no reference to compare with.

import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { sql as drizzleSql } from 'drizzle-orm'
import { openDatabase } from '../src/db/client'
import { seedStatements } from './database'
import { measure } from './load'
import { SECONDS, STOCK, WARMUP } from './options'
import { stopProcess } from './processes'
import { cpuModel, fmt, log, table } from './report'
import { mintTokens, startServer } from './servers'

const EMBEDDED_USERS = 100

/**
 * The service on embedded PGlite (DATABASE_URL unset), as a newcomer runs it:
 * list and create at 1 and 64 connections. No reference and no target but
 * "no errors": PGlite is one in-process connection, so every query of every
 * request waits its turn.
 */
export async function embeddedMode(workDir: string): Promise<void> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const dataDir = join(workDir, 'pglite')
  const seeding = performance.now()
  // The runner opens the data folder first (migrating it, as the service would) and seeds it with SQL.
  const handle = await openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1, prepare: true, databaseTimeoutMs: 5000 })
  for (const statement of seedStatements({ prefix: 'e-', from: 1, to: EMBEDDED_USERS }, STOCK))
    await handle.db.execute(drizzleSql.raw(statement))
  const owned = (await handle.db.execute(drizzleSql.raw('select user_id, id from tasks order by user_id, id'))) as unknown as {
    rows: { user_id: string; id: number }[]
  }
  await handle.close()
  log(
    `embedded PGlite in ${dataDir}: migrated and seeded ${EMBEDDED_USERS} users x ${STOCK.lists} lists and ${STOCK.tasks} tasks in ${fmt(performance.now() - seeding)} ms`,
  )

  const tokens = await mintTokens(
    secret,
    Array.from({ length: EMBEDDED_USERS }, (_, i) => `e-${i + 1}`),
  )
  const tokensFile = join(workDir, 'tokens-embedded')
  await writeFile(tokensFile, `${owned.rows.map((row) => `${tokens.get(row.user_id)} ${row.id}`).join('\n')}\n`)

  const service = await startServer('service', { dataDir }, secret)
  log(`service on PGlite answered /health in ${fmt(service.startMs)} ms`)
  const rows: string[][] = []
  for (const scenario of ['list', 'create'] as const)
    for (const connections of [1, 64]) {
      const m = await measure(service, undefined, { scenario, connections, seconds: SECONDS, tokensFile })
      log(
        `embedded ${scenario} c${connections}: ${fmt(m.rps)} req/s p50 ${fmt(m.p50, 2)} p99 ${fmt(m.p99, 2)} ms, errors ${m.errors}, CPU ${fmt(m.cpuUsPerRequest)} us/req`,
      )
      rows.push([
        scenario,
        String(connections),
        fmt(m.rps),
        fmt(m.p50, 2),
        fmt(m.p99, 2),
        fmt(m.cpuUsPerRequest),
        fmt(m.peakRssMb),
        String(m.errors),
      ])
    }
  await stopProcess(service.child)

  const env = `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpuModel()}), Bun ${Bun.version}; service on core 0, wrk on core 1`
  console.log(`\n## Embedded PGlite: ${SECONDS} s per line after ${WARMUP} s warm-up\n`)
  console.log(env)
  console.log(
    `${EMBEDDED_USERS} users x ${STOCK.lists} lists and ${STOCK.tasks} tasks; list = GET /api/tasks?limit=50; create = POST {"title"}\n`,
  )
  console.log(table(['scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU us/req', 'peak RSS MB', 'errors'], rows))
}
