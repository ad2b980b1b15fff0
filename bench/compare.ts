// The default mode: the service against the reference on one seeded
// database, scenario by scenario and round by round, and the two tables of
// medians and same-round ratios.

import { writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { collectionTag } from '../src/http/preconditions'
import { createDatabase, resetTables, seed } from './database'
import { LIST_QUERY, type Measurement, measure, prewarm } from './load'
import { CONNECTIONS, options, ROUNDS, ROUNDS_PER_START, SCENARIOS, type Scenario, SECONDS, STOCK, USERS, WARMUP } from './options'
import { stopProcess } from './processes'
import { environment, fmt, log, median, table } from './report'
import { checkSameAnswers, type Kind, mintTokens, type Server, startServer, stopServers } from './servers'

export async function compareMode(workDir: string): Promise<void> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const db = await createDatabase('todo_bench')
  const env = await environment(db.sql)
  log(`database ${db.name}; ${env}`)

  // The service migrates the fresh database on its first start.
  const first = await startServer('service', db.url, secret)
  log(`service migrated the database and answered /health in ${fmt(first.startMs)} ms`)
  await stopProcess(first.child)

  const seeding = performance.now()
  await seed(db.sql, { prefix: 'bench-', from: 1, to: USERS }, STOCK)
  await db.sql`vacuum analyze tasks`
  await db.sql`vacuum analyze lists`
  await db.sql`vacuum analyze task_quotas`
  log(`seeded ${USERS} users x ${STOCK.lists} lists and ${STOCK.tasks} tasks in ${fmt(performance.now() - seeding)} ms`)

  const users = Array.from({ length: USERS }, (_, i) => `bench-${i + 1}`)
  const tokens = await mintTokens(secret, users)
  const owned = await db.sql<{ user_id: string; id: number }[]>`select user_id, id from tasks order by user_id, id`
  const tasksFile = join(workDir, 'tokens')
  await writeFile(tasksFile, `${owned.map((row) => `${tokens.get(row.user_id)} ${row.id}`).join('\n')}\n`)
  // list-tasks reads the lists that hold tasks, one line each.
  const holding = await db.sql<{ user_id: string; id: number }[]>`
    select user_id, id from lists where exists (select from tasks where tasks.user_id = lists.user_id and tasks.list_id = lists.id)
    order by user_id, id`
  const listsFile = join(workDir, 'tokens-lists')
  await writeFile(listsFile, `${holding.map((row) => `${tokens.get(row.user_id)} ${row.id}`).join('\n')}\n`)
  // revalidate sends each user's list back with the ETag it was answered with.
  const positions = await db.sql<{ user_id: string; change_position: number }[]>`select user_id, change_position from task_quotas`
  const revalidateFile = join(workDir, 'tokens-etags')
  await writeFile(
    revalidateFile,
    `${positions.map((row) => `${tokens.get(row.user_id)} ${collectionTag(row.change_position, row.user_id, `http://bench/api/tasks?${LIST_QUERY.revalidate}`)}`).join('\n')}\n`,
  )
  const tokensFileOf = (scenario: Scenario) =>
    scenario === 'list-tasks' ? listsFile : scenario === 'revalidate' ? revalidateFile : tasksFile
  const [empty] = await db.sql<{ id: number }[]>`
    select id from lists where user_id = 'bench-1' and not exists (select from tasks where tasks.user_id = lists.user_id and tasks.list_id = lists.id)
    limit 1`

  const [{ seeded } = { seeded: 0 }] = await db.sql<{ seeded: number }[]>`select max(id) as seeded from tasks`

  // Every ROUNDS_PER_START rounds both servers start afresh (a process can
  // carry a speed offset of its own for its lifetime) and are prewarmed
  // (prewarm). Within a start the rounds alternate which server runs first.
  // Every run starts from the seeded table (resetTables).
  const results: Measurement[] = []
  const totalRuns = SCENARIOS.length * CONNECTIONS.length * ROUNDS * 2
  let servers: Record<Kind, Server> | undefined
  for (let round = 0; round < ROUNDS; round++) {
    if (round % ROUNDS_PER_START === 0) {
      if (servers) await stopServers(servers)
      servers = { service: await startServer('service', db.url, secret), reference: await startServer('reference', db.url, secret) }
      if (round === 0 && options['same-answers']) {
        await checkSameAnswers(servers.service, servers.reference, {
          token: tokens.get('bench-1')!,
          otherToken: tokens.get('bench-2')!,
          taskId: owned.find((row) => row.user_id === 'bench-1')!.id,
          listId: holding.find((row) => row.user_id === 'bench-1')!.id,
          emptyListId: empty!.id,
        })
        log('service and reference answer the benchmark requests alike (bodies, statuses, X-Total-Count, Link, ETag, Location)')
      }
      // Scenario by scenario, the two servers in turn (which goes first
      // alternating by start), so that neither has had longer since its
      // prewarm of a scenario than the other when the measured runs begin.
      const kinds: Kind[] = (round / ROUNDS_PER_START) % 2 === 0 ? ['service', 'reference'] : ['reference', 'service']
      const warmed: Record<Kind, string[]> = { service: [], reference: [] }
      const jitMs: Record<Kind, number> = { service: 0, reference: 0 }
      for (const scenario of SCENARIOS)
        for (const kind of kinds) {
          const w = await prewarm(servers[kind], scenario, tokensFileOf(scenario))
          warmed[kind].push(`${scenario} ${w.seconds} s${w.quiet ? '' : ' (JIT not yet quiet)'}`)
          jitMs[kind] += w.jitMs
        }
      for (const kind of kinds) log(`${kind} prewarmed: ${warmed[kind].join(', ')}; its JIT threads took ${fmt(jitMs[kind])} ms of core 0`)
    }
    for (const scenario of SCENARIOS)
      for (const connections of CONNECTIONS) {
        // Alternating order: neither server always runs on a table the other just grew.
        const order: Kind[] = round % 2 === 0 ? ['service', 'reference'] : ['reference', 'service']
        for (const kind of order) {
          await resetTables(db.sql, seeded)
          const m = await measure(
            servers![kind],
            db.name,
            { scenario, connections, seconds: SECONDS, tokensFile: tokensFileOf(scenario) },
            round,
          )
          results.push(m)
          log(
            `[${results.length}/${totalRuns}] ${scenario} c${connections} r${round + 1} ${kind.padEnd(9)} ` +
              `${fmt(m.rps)} req/s p50 ${fmt(m.p50, 2)} p99 ${fmt(m.p99, 2)} ms, errors ${m.errors}, ` +
              `CPU ${fmt(m.cpuUsPerRequest)} us/req (core ${fmt(m.serverCore * 100)}%, JIT ${fmt(m.jitMs)} ms), DB ${fmt(m.dbUsPerRequest)} us/req, wrk ${fmt(m.wrkUsPerRequest)} us/req, RSS ${fmt(m.peakRssMb)} MB`,
          )
        }
      }
  }
  if (servers) await stopServers(servers)
  await db.sql.end({ timeout: 5 })
  printComparison(results, env)
}

/** Per scenario and connection count: medians over the rounds and medians of same-round ratios service/reference. */
function printComparison(results: Measurement[], env: string): void {
  const speed: string[][] = []
  const cost: string[][] = []
  for (const scenario of SCENARIOS)
    for (const connections of CONNECTIONS) {
      const of = (kind: Kind) => results.filter((m) => m.kind === kind && m.scenario === scenario && m.connections === connections)
      const s = of('service')
      const r = of('reference')
      const pick = (ms: Measurement[], f: (m: Measurement) => number) => median(ms.map(f))
      const ratio = (f: (m: Measurement) => number) =>
        median(
          s.map((sm) => {
            const rm = r.find((x) => x.round === sm.round)
            return rm ? f(sm) / f(rm) : Number.NaN
          }),
        )
      const errors = (ms: Measurement[]) => ms.reduce((sum, m) => sum + m.errors, 0)
      speed.push([
        scenario,
        String(connections),
        fmt(pick(s, (m) => m.rps)),
        fmt(pick(r, (m) => m.rps)),
        fmt(
          ratio((m) => m.rps),
          2,
        ),
        `${fmt(
          pick(s, (m) => m.p50),
          2,
        )} / ${fmt(
          pick(s, (m) => m.p99),
          1,
        )}`,
        `${fmt(
          pick(r, (m) => m.p50),
          2,
        )} / ${fmt(
          pick(r, (m) => m.p99),
          1,
        )}`,
        fmt(
          ratio((m) => m.p99),
          2,
        ),
        `${errors(s)} / ${errors(r)}`,
      ])
      cost.push([
        scenario,
        String(connections),
        fmt(pick(s, (m) => m.cpuUsPerRequest)),
        fmt(pick(r, (m) => m.cpuUsPerRequest)),
        fmt(
          ratio((m) => m.cpuUsPerRequest),
          2,
        ),
        `${fmt(pick(s, (m) => m.serverCore * 100))} / ${fmt(pick(r, (m) => m.serverCore * 100))}`,
        `${fmt(pick(s, (m) => m.jitMs))} / ${fmt(pick(r, (m) => m.jitMs))}`,
        `${fmt(pick(s, (m) => m.dbUsPerRequest))} / ${fmt(pick(r, (m) => m.dbUsPerRequest))} (${fmt(
          ratio((m) => m.dbUsPerRequest),
          2,
        )})`,
        `${fmt(pick(s, (m) => m.wrkUsPerRequest))} / ${fmt(pick(r, (m) => m.wrkUsPerRequest))} (${fmt(
          ratio((m) => m.wrkUsPerRequest),
          2,
        )})`,
        `${fmt(Math.max(...s.map((m) => m.peakRssMb)))} / ${fmt(Math.max(...r.map((m) => m.peakRssMb)))}`,
      ])
    }

  console.log(
    `\n## Service vs reference: medians of ${ROUNDS} interleaved rounds (servers started every ${ROUNDS_PER_START}, prewarmed until their JIT was quiet), ${SECONDS} s each after ${WARMUP} s warm-up\n`,
  )
  console.log(env)
  console.log(
    `${USERS} users x ${STOCK.lists} lists and ${STOCK.tasks} tasks (in ${STOCK.listsHoldingTasks} of the lists); list = GET /api/tasks?${LIST_QUERY.list}; ` +
      `list-tasks = GET /api/tasks?list_id=<id>&${LIST_QUERY['list-tasks']}; ratio = median of same-round service/reference\n`,
  )
  console.log(
    table(
      [
        'scenario',
        'conns',
        'service req/s',
        'reference req/s',
        'ratio',
        'service p50/p99 ms',
        'reference p50/p99 ms',
        'p99 ratio',
        'errors svc/ref',
      ],
      speed,
    ),
  )
  console.log()
  console.log(
    table(
      [
        'scenario',
        'conns',
        'service CPU us/req',
        'reference CPU us/req',
        'ratio',
        'server core % svc/ref',
        'JIT ms svc/ref',
        'DB CPU us/req svc/ref (ratio)',
        'wrk CPU us/req svc/ref (ratio)',
        'peak RSS MB svc/ref',
      ],
      cost,
    ),
  )
  // Each server against itself: what a 304 saves, and what MCP's framing costs over the REST list it wraps.
  const lines: string[] = []
  for (const connections of CONNECTIONS) {
    if (SCENARIOS.includes('list') && SCENARIOS.includes('revalidate'))
      lines.push(sameServerLine(results, connections, 'revalidate', (m) => m.rps, 'revalidate (304) / list req/s'))
    if (SCENARIOS.includes('list') && SCENARIOS.includes('mcp-list'))
      lines.push(sameServerLine(results, connections, 'mcp-list', (m) => m.cpuUsPerRequest, 'mcp-list / list CPU per request'))
  }
  if (lines.length) console.log(`\n${lines.join('\n')}`)
  if (options.json) writeFileSync(options.json, JSON.stringify({ environment: env, results }, null, 2))
}

/** A scenario against the list on the same server: each server's same-round ratio of `figure`. */
function sameServerLine(
  results: Measurement[],
  connections: number,
  scenario: Scenario,
  figure: (m: Measurement) => number,
  label: string,
): string {
  const ratio = (kind: Kind) =>
    median(
      results
        .filter((m) => m.kind === kind && m.scenario === scenario && m.connections === connections)
        .map((measured) => {
          const listed = results.find(
            (m) => m.kind === kind && m.scenario === 'list' && m.connections === connections && m.round === measured.round,
          )
          return listed ? figure(measured) / figure(listed) : Number.NaN
        }),
    )
  return `${label}, same round, c${connections}: service ${fmt(ratio('service'), 2)}x, reference ${fmt(ratio('reference'), 2)}x`
}
