// The load: wrk (bench/wrk.lua) on core 1 against one server, the prewarm
// that lets a fresh server's JIT settle, and one measured run with what it
// cost the server, its database backends and wrk.

import { join } from 'node:path'
import { backendTicks } from './database'
import { CONNECTIONS, options, PREWARM, type Scenario, WARMUP } from './options'
import { CLK_TCK, jitMsSince, jitThreadTicks, procTicks, watchRss } from './proc'
import { pin, spawn } from './processes'
import type { Kind, Server } from './servers'

const WRK_LUA = join(import.meta.dir, 'wrk.lua')

/** The query string of the scenarios that list tasks, unless a load names its own (list-tasks adds it to list_id=<id>). */
export const LIST_QUERY: Partial<Record<Scenario, string>> = {
  list: 'limit=50',
  revalidate: 'limit=50',
  'list-tasks': 'sort=position&limit=50',
}

interface WrkResult {
  requests: number
  duration_s: number
  statuses: Record<string, number>
  errors: { connect: number; read: number; write: number; timeout: number; status: number }
  p50_ms: number
  p90_ms: number
  p99_ms: number
  max_ms: number
  mean_ms: number
  /** wrk's own CPU time over the run (it shares core 1 with PostgreSQL), microseconds. */
  cpu_us: number
}

export interface Load {
  scenario: Scenario
  connections: number
  seconds: number
  tokensFile: string
  listQuery?: string
}

async function wrk(port: number, load: Load): Promise<WrkResult> {
  const command = [
    ...pin('1'),
    'wrk',
    '-t1',
    `-c${load.connections}`,
    `-d${load.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    WRK_LUA,
    `http://127.0.0.1:${port}`,
  ]
  const child = spawn(command, {
    env: {
      ...process.env,
      STATUSES: options.statuses ? '1' : '0',
      SCENARIO: load.scenario,
      TOKENS_FILE: load.tokensFile,
      LIST_QUERY: load.listQuery ?? LIST_QUERY[load.scenario] ?? '',
    },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), (load.seconds + 60) * 1000)
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout as ReadableStream).text(),
    new Response(child.stderr as ReadableStream).text(),
  ])
  await child.exited
  clearTimeout(killer)
  const line = stdout.split('\n').find((l) => l.startsWith('{"scenario"'))
  if (!line) throw new Error(`wrk printed no result (exit ${child.exitCode ?? child.signalCode}):\n${stdout}\n${stderr}`)
  return { ...(JSON.parse(line) as Omit<WrkResult, 'cpu_us'>), cpu_us: Number(child.resourceUsage()?.cpuTime.total ?? Number.NaN) }
}

// The JIT is quiet when its threads take at most one clock tick (10 ms at
// 100 Hz) in each of this many one-second windows in a row.
const JIT_QUIET_MS = 1000 / CLK_TCK
const JIT_QUIET_WINDOWS = 2
const PREWARM_MIN_SECONDS = 3

/**
 * A production server has long been warm; one just started still compiles.
 * Before measuring, each server takes each scenario (at the first connection
 * count) in one-second windows until its JIT threads have been quiet for
 * JIT_QUIET_WINDOWS windows in a row, after at least PREWARM_MIN_SECONDS and
 * at most PREWARM seconds. A fixed prewarm left the service's JIT compiling
 * its route handlers in each scenario's first measured run, on the measured
 * core.
 */
export async function prewarm(
  server: Server,
  scenario: Scenario,
  tokensFile: string,
): Promise<{ seconds: number; jitMs: number; quiet: boolean }> {
  let seconds = 0
  let jitMs = 0
  let quietWindows = 0
  while (seconds < PREWARM) {
    const before = jitThreadTicks(server.pid)
    await wrk(server.port, { scenario, connections: CONNECTIONS[0]!, seconds: 1, tokensFile })
    seconds++
    const spent = jitMsSince(server.pid, before)
    jitMs += spent
    quietWindows = spent <= JIT_QUIET_MS ? quietWindows + 1 : 0
    if (seconds >= PREWARM_MIN_SECONDS && quietWindows >= JIT_QUIET_WINDOWS) break
  }
  return { seconds, jitMs, quiet: quietWindows >= JIT_QUIET_WINDOWS }
}

export interface Measurement {
  kind: Kind
  scenario: Scenario
  connections: number
  round: number
  rps: number
  requests: number
  p50: number
  p99: number
  errors: number
  statuses: Record<string, number>
  cpuUsPerRequest: number
  dbUsPerRequest: number
  /** The load generator's CPU per request: with the database it makes up core 1's load. */
  wrkUsPerRequest: number
  /** Share of one core the server used during the run. */
  serverCore: number
  /** CPU its JIT threads took during the run (part of cpuUsPerRequest), ms. */
  jitMs: number
  peakRssMb: number
}

/** One measured wrk run; `database` undefined for embedded PGlite (no backends to count). */
export async function measure(server: Server, database: string | undefined, load: Load, round = 0): Promise<Measurement> {
  const warm = WARMUP > 0 ? await wrk(server.port, { ...load, seconds: WARMUP }) : undefined
  const rss = watchRss(server.pid)
  const db0 = database ? await backendTicks(database, server.application) : new Map<number, number>()
  const jit0 = jitThreadTicks(server.pid)
  const cpu0 = procTicks(server.pid)
  const started = performance.now()
  const result = await wrk(server.port, load)
  const cpu1 = procTicks(server.pid)
  const jitMs = jitMsSince(server.pid, jit0)
  const wall = (performance.now() - started) / 1000
  const db1 = database ? await backendTicks(database, server.application) : new Map<number, number>()
  const peakRssMb = rss.stop()
  let dbTicks = 0
  for (const [pid, ticks] of db1) dbTicks += ticks - (db0.get(pid) ?? 0)
  const requests = Math.max(1, result.requests)
  const socket = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout
  const cpuSeconds = (cpu1 - cpu0) / CLK_TCK
  return {
    kind: server.kind,
    scenario: load.scenario,
    connections: load.connections,
    round,
    rps: result.requests / result.duration_s,
    requests: result.requests,
    p50: result.p50_ms,
    p99: result.p99_ms,
    errors: result.errors.status + socket,
    statuses: result.statuses,
    cpuUsPerRequest: (cpuSeconds * 1e6) / requests,
    dbUsPerRequest: ((dbTicks / CLK_TCK) * 1e6) / requests,
    // wrk's start (reading the tokens file) costs the same in both of its
    // runs: the difference from the warm-up run leaves the cost per request.
    // Only a warm-up well shorter than the run leaves a difference worth
    // reading; otherwise there is no figure (NaN, printed "-").
    wrkUsPerRequest:
      warm && warm.requests < result.requests / 2 ? (result.cpu_us - warm.cpu_us) / (result.requests - warm.requests) : Number.NaN,
    serverCore: cpuSeconds / wall,
    jitMs,
    peakRssMb,
  }
}
