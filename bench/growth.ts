// Growth mode: how a list costs as the user's tasks and the table grow
// (1M rows), the filters over it, a user with 1,000 lists, cold starts, and
// the plans PostgreSQL chooses for the SQL the service sends.

import { writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { drizzle as proxyDrizzle } from 'drizzle-orm/pg-proxy'
import type { Database } from '../src/db/client'
import * as schema from '../src/db/schema'
import { listLists } from '../src/lists/queries'
import { DEFAULT_TIME_ZONE } from '../src/settings/model'
import { dueWindow } from '../src/tasks/due-views'
import { listTasks } from '../src/tasks/queries'
import { checkpoint, createDatabase, seed } from './database'
import { type Measurement, measure } from './load'
import { options, SECONDS, WARMUP } from './options'
import { stopProcess } from './processes'
import { environment, fmt, log, median, table } from './report'
import { type Kind, mintTokens, startServer } from './servers'

/** The first statement the service sends in `run` (src/tasks/queries.ts, src/lists/queries.ts), captured from its own code. */
async function serviceSql(run: (db: Database) => Promise<unknown>): Promise<{ sql: string; params: unknown[] }> {
  const captured: { sql: string; params: unknown[] }[] = []
  const db = proxyDrizzle(
    async (sql, params) => {
      captured.push({ sql, params })
      return { rows: [] }
    },
    { schema },
  ) as unknown as Database
  // With no rows, a call may go on to a second statement (the default list made, a list's owner asked); only the first counts.
  await run(db).catch(() => {})
  return captured[0]!
}

type ListQuery = Parameters<typeof listTasks>[2]
// Days in UTC, today being today.
const listSql = (userId: string, query: ListQuery & { limit: number; offset: number }) => {
  const now = new Date()
  const time = { window: dueWindow(query, now, DEFAULT_TIME_ZONE), zone: DEFAULT_TIME_ZONE, now }
  return serviceSql((db) => listTasks(db, userId, query, { limit: query.limit, offset: query.offset }, time))
}

// The user with many lists: its tasks, 1,000 in each of its first 10 lists.
const MANY_LISTS = { lists: 1000, tasks: 10_000, listsHoldingTasks: 10 }

export async function growthMode(workDir: string): Promise<void> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const db = await createDatabase('todo_bench_growth')
  const env = await environment(db.sql)
  log(`database ${db.name}; ${env}`)
  const out: string[] = []
  const print = (line = '') => {
    out.push(line)
    console.log(line)
  }

  const first = await startServer('service', db.url, secret)
  const firstStart = first.startMs
  await stopProcess(first.child)
  log(`first start (migrations applied): ${fmt(firstStart)} ms`)

  const SIZES = [10, 100, 1000, 10_000]
  const seeding = performance.now()
  await db.sql`set synchronous_commit = off`
  await seed(db.sql, { prefix: 'g-', from: 1, to: 10_000 }, { lists: 1, tasks: 100, listsHoldingTasks: 1 })
  for (const size of SIZES) await seed(db.sql, { prefix: `size${size}-`, from: 1, to: 1 }, { lists: 1, tasks: size, listsHoldingTasks: 1 })
  await seed(db.sql, { prefix: 'lists1000-', from: 1, to: 1 }, MANY_LISTS)
  await db.sql`vacuum analyze tasks`
  await db.sql`vacuum analyze lists`
  await db.sql`vacuum analyze task_quotas`
  // The seed's dirty pages written out now, not by the checkpointer during the measured runs.
  await checkpoint(db.sql, 'after seeding')
  const [{ n: taskCount } = { n: 0 }] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks`
  const seedSeconds = (performance.now() - seeding) / 1000
  log(`seeded ${fmt(taskCount)} tasks in ${fmt(seedSeconds, 1)} s`)

  // Cold start: spawn to the first 200 from /health, on the migrated database.
  const coldStarts: Record<Kind, number[]> = { service: [], reference: [] }
  for (let i = 0; i < 5; i++)
    for (const kind of ['service', 'reference'] as const) {
      const server = await startServer(kind, db.url, secret)
      coldStarts[kind].push(server.startMs)
      await stopProcess(server.child)
    }

  const sizeUsers = SIZES.map((size) => `size${size}-1`)
  const manyUsers = Array.from({ length: 10_000 }, (_, i) => `g-${i + 1}`)
  const listsUser = 'lists1000-1'
  const [inbox] = await db.sql<{ id: number }[]>`select id from lists where user_id = ${listsUser} and is_default`
  const tokens = await mintTokens(secret, [...sizeUsers, ...manyUsers, listsUser])
  const fileFor = async (name: string, users: string[]) => {
    const file = join(workDir, name)
    await writeFile(file, `${users.map((u) => tokens.get(u)).join('\n')}\n`)
    return file
  }

  const service = await startServer('service', db.url, secret)
  const reference = await startServer('reference', db.url, secret)
  const servers = { service, reference }
  const row = (m: Measurement) => [fmt(m.p50, 2), fmt(m.p99, 2), fmt(m.rps), fmt(m.cpuUsPerRequest), m.errors ? `${m.errors} errors` : '']

  print(`\n## Growth: ${SECONDS} s per line after ${WARMUP} s warm-up\n`)
  print(env)
  print(
    `tasks table: ${fmt(taskCount)} rows (10,000 users x 100 tasks, one user each of ${SIZES.map((s) => fmt(s)).join(', ')} tasks, ` +
      `and one of ${fmt(MANY_LISTS.lists)} lists and ${fmt(MANY_LISTS.tasks)} tasks); seeded in ${fmt(seedSeconds, 1)} s\n`,
  )

  print('### List (GET /api/tasks, default limit 100) at 1 connection, by tasks the user holds\n')
  const sizeRows: string[][] = []
  for (const [i, size] of SIZES.entries()) {
    const tokensFile = await fileFor(`size-${size}`, [sizeUsers[i]!])
    for (const kind of ['service', 'reference'] as const) {
      const m = await measure(servers[kind], db.name, { scenario: 'list', connections: 1, seconds: SECONDS, tokensFile, listQuery: '' })
      log(`size ${size} ${kind}: p50 ${fmt(m.p50, 2)} ms, ${fmt(m.rps)} req/s`)
      sizeRows.push([fmt(size), kind, ...row(m)])
    }
  }
  print(table(['tasks held', 'server', 'p50 ms', 'p99 ms', 'req/s', 'CPU us/req', ''], sizeRows))

  print('\n### Variants for the user holding 10,000 tasks, at 1 connection\n')
  const bigFile = await fileFor('size-10000', [sizeUsers[3]!])
  const bigRows: string[][] = []
  for (const [query, kinds] of [
    ['limit=1000', ['service', 'reference']],
    ['status=pending', ['service']],
    ['tag=x', ['service']],
    ['q=word', ['service']],
    ['due=today', ['service']],
  ] as const) {
    for (const kind of kinds) {
      const m = await measure(servers[kind], db.name, {
        scenario: 'list',
        connections: 1,
        seconds: SECONDS,
        tokensFile: bigFile,
        listQuery: query,
      })
      log(`10,000 tasks ?${query} ${kind}: p50 ${fmt(m.p50, 2)} ms`)
      bigRows.push([`?${query}`, kind, ...row(m)])
    }
  }
  print(table(['query', 'server', 'p50 ms', 'p99 ms', 'req/s', 'CPU us/req', ''], bigRows))

  print(
    `\n### The user with ${fmt(MANY_LISTS.lists)} lists and ${fmt(MANY_LISTS.tasks)} tasks (${fmt(MANY_LISTS.tasks / MANY_LISTS.listsHoldingTasks)} in each of ${MANY_LISTS.listsHoldingTasks} lists), at 1 connection\n`,
  )
  const listsFile = await fileFor('lists-1000', [listsUser])
  const listsRows: string[][] = []
  for (const [request, scenario, listQuery] of [
    ['GET /api/lists', 'lists', ''],
    ['GET /api/tasks?limit=1000', 'list', 'limit=1000'],
    ['GET /api/tasks?list_id=<default list>&sort=position', 'list', `list_id=${inbox!.id}&sort=position`],
    ['GET /api/tasks?list_id=<default list>&sort=position&limit=1000', 'list', `list_id=${inbox!.id}&sort=position&limit=1000`],
  ] as const)
    for (const kind of ['service', 'reference'] as const) {
      const m = await measure(servers[kind], db.name, { scenario, connections: 1, seconds: SECONDS, tokensFile: listsFile, listQuery })
      log(`1,000 lists ${request} ${kind}: p50 ${fmt(m.p50, 2)} ms, p99 ${fmt(m.p99, 2)} ms`)
      listsRows.push([request, kind, ...row(m)])
    }
  print(table(['request', 'server', 'p50 ms', 'p99 ms', 'req/s', 'CPU us/req', ''], listsRows))

  print('\n### Filtered and searched lists over the whole table (random user of the 10,000 with 100 tasks each)\n')
  const manyFile = await fileFor('many', manyUsers)
  const manyRows: string[][] = []
  for (const [query, kinds] of [
    ['', ['service', 'reference']],
    ['status=pending', ['service']],
    ['tag=x', ['service']],
    ['q=word', ['service']],
    ['due=today', ['service']],
  ] as const)
    for (const connections of [1, 64])
      for (const kind of kinds) {
        const m = await measure(servers[kind], db.name, {
          scenario: 'list',
          connections,
          seconds: SECONDS,
          tokensFile: manyFile,
          listQuery: query,
        })
        log(`1M ?${query} c${connections} ${kind}: p50 ${fmt(m.p50, 2)} ms, ${fmt(m.rps)} req/s`)
        manyRows.push([query ? `?${query}` : '(default)', `${kind} c${connections}`, ...row(m)])
      }
  print(table(['query', 'server, connections', 'p50 ms', 'p99 ms', 'req/s', 'CPU us/req', ''], manyRows))

  await stopProcess(service.child)
  await stopProcess(reference.child)

  print('\n### Cold start: spawn to the first 200 from /health (5 starts each, database already migrated)\n')
  print(
    table(
      ['server', 'first start', 'median ms', 'min ms', 'max ms'],
      (['service', 'reference'] as const).map((kind) => [
        kind,
        kind === 'service' ? `${fmt(firstStart)} ms on the empty database (migrating)` : '',
        fmt(median(coldStarts[kind])),
        fmt(Math.min(...coldStarts[kind])),
        fmt(Math.max(...coldStarts[kind])),
      ]),
    ),
  )

  print('\n### EXPLAIN (ANALYZE, BUFFERS) of the SQL the service sends (captured from its own code)\n')
  const variants: [string, Promise<{ sql: string; params: unknown[] }>][] = [
    ['user with 10,000 tasks, default list', listSql(sizeUsers[3]!, { limit: 100, offset: 0 })],
    ['user with 10,000 tasks, limit=1000', listSql(sizeUsers[3]!, { limit: 1000, offset: 0 })],
    ['user with 10,000 tasks, status=pending', listSql(sizeUsers[3]!, { status: 'pending', limit: 100, offset: 0 })],
    ['user with 10,000 tasks, q=word', listSql(sizeUsers[3]!, { q: 'word', limit: 100, offset: 0 })],
    ['user with 10,000 tasks, due=today', listSql(sizeUsers[3]!, { due: 'today', limit: 100, offset: 0 })],
    [
      'user with 10,000 tasks, due=overdue&status=pending',
      listSql(sizeUsers[3]!, { due: 'overdue', status: 'pending', limit: 100, offset: 0 }),
    ],
    ['user with 100 tasks (1M-row table), status=pending', listSql('g-4242', { status: 'pending', limit: 100, offset: 0 })],
    ['user with 100 tasks (1M-row table), tag=x', listSql('g-4242', { tag: 'x', limit: 100, offset: 0 })],
    ['user with 100 tasks (1M-row table), q=word', listSql('g-4242', { q: 'word', limit: 100, offset: 0 })],
    ['user with 100 tasks (1M-row table), due=today', listSql('g-4242', { due: 'today', limit: 100, offset: 0 })],
    ['user with 1,000 lists: GET /api/lists', serviceSql((db) => listLists(db, listsUser))],
    [
      'user with 1,000 lists: list_id=<default list>&sort=position',
      listSql(listsUser, { list_id: inbox!.id, sort: 'position', limit: 100, offset: 0 }),
    ],
  ]
  for (const [title, captured] of variants) {
    const { sql: text, params } = await captured
    const explain = `explain (analyze, buffers) ${text}`
    const custom = await db.sql.unsafe(explain, params as never[])
    // Only a named statement gets a generic plan: PREPARE it in SQL, EXPLAIN EXECUTE it.
    const literal = (v: unknown) =>
      v === null || v === undefined
        ? 'null'
        : typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : `'${String(v).replaceAll("'", "''")}'`
    const generic = await db.sql.begin(async (tx) => {
      await tx.unsafe('set local plan_cache_mode = force_generic_plan')
      await tx.unsafe(`prepare bench_plan as ${text}`)
      const plan = await tx.unsafe(`explain (analyze, buffers) execute bench_plan(${params.map(literal).join(', ')})`)
      await tx.unsafe('deallocate bench_plan')
      return plan
    })
    print(`#### ${title}\n`)
    print('```sql')
    print(`${text}\n-- params: ${JSON.stringify(params)}`)
    print('\n-- custom plan')
    for (const line of custom) print(String(line['QUERY PLAN']))
    print('\n-- generic plan')
    for (const line of generic) print(String(line['QUERY PLAN']))
    print('```\n')
  }
  await db.sql.end({ timeout: 5 })
  if (options.json) writeFileSync(options.json, out.join('\n'))
}
