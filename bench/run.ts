// Load benchmark: the service (Elysia + drizzle) against a frameworkless
// reference server (bench/reference.ts) on the same PostgreSQL database.
//
//   bun bench/run.ts              both servers, every scenario, interleaved rounds (about 11 minutes)
//   bun bench/run.ts --growth     list cost as a user's tasks and lists and the table grow, filters, cold start, EXPLAIN
//   bun bench/run.ts --embedded   the service alone on embedded PGlite
//   bun bench/run.ts --streams    11,000 open event streams on two instances: RSS, commit-to-delivery latency
//   bun bench/run.ts --reminders  100,000 pending reminders, 1,000 due in one second: delivery to streams, idle scheduler CPU
//
//   --rounds 4 --rounds-per-start 2 --seconds 3 --warmup 1 --prewarm 8
//   --scenarios list,revalidate,create,get-one,update,toggle,lists,list-tasks,mcp-list --connections 64 (64,256: also under overload)
//   --log-level info (the service's) --json FILE (every run's figures; growth: the report)
// Diagnostics:
//   --reference-env KEY=VALUE (repeatable) passes diagnostics to bench/reference.ts:
//     REFERENCE_TIMESTAMPS=js|sql, REFERENCE_PREPARE=false, REFERENCE_INFLIGHT=10, REFERENCE_TOKEN_CACHE=1
//   --service-env KEY=VALUE (repeatable) passes diagnostics to the service, e.g. BUN_JSC_reportCompileTimes=1
//   --reference-script FILE: another server in the reference's place (src/index.ts there: an A/A run)
//   --cpu-prof DIR: both servers write a CPU profile (markdown) there when they stop
//   --statuses: wrk counts responses by status, for --json (it costs wrk per response)
//   --no-pin-postgres: a local PostgreSQL server keeps its cores (others share it); wrk still runs on core 1
//   --no-same-answers: no check that both answer alike (an A/B against an older service whose answers differ)
//
// See bench/README.md for what it measures and how. Needs wrk (apt-get
// install wrk) and a PostgreSQL server: BENCH_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres (a role that may create databases).
// Not a test: `bun test` never runs it.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compareMode } from './compare'
import { dropDatabases, openAdmin, pinPostgres, restorePostgres } from './database'
import { embeddedMode } from './embedded'
import { growthMode } from './growth'
import { options } from './options'
import { checkHost, stopChildren } from './processes'
import { remindersMode } from './reminders'
import { streamsMode } from './streams'

checkHost()

let workDir: string | undefined
let cleaning: Promise<void> | undefined

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopChildren()
    await dropDatabases()
    if (workDir) await rm(workDir, { recursive: true, force: true })
    restorePostgres()
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    console.error(`bench: ${signal}, cleaning up`)
    void cleanup().finally(() => process.exit(130))
  })

// No hang: the whole run has a deadline.
const DEADLINE_MS = (options.growth ? 20 : 30) * 60_000
setTimeout(() => {
  console.error(`bench: still running after ${DEADLINE_MS / 60_000} minutes; aborting`)
  void cleanup().finally(() => process.exit(2))
}, DEADLINE_MS).unref()

let failed = false
try {
  workDir = await mkdtemp(join(tmpdir(), 'todo-bench-'))
  await openAdmin()
  if (!options.embedded && options['pin-postgres']) await pinPostgres()
  if (options.growth) await growthMode(workDir)
  else if (options.embedded) await embeddedMode(workDir)
  else if (options.streams) await streamsMode(workDir, options.json)
  else if (options.reminders) await remindersMode(options.json)
  else await compareMode(workDir)
} catch (error) {
  failed = true
  // After a signal the failure is the interruption itself, already reported.
  if (!cleaning) console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  await cleanup()
}
process.exit(failed ? 1 : 0)
