// Load benchmark: the service (Elysia + drizzle) against a frameworkless
// reference server (bench/reference.ts) on the same PostgreSQL database.
//
//   bun bench/run.ts [--rounds 4] [--seconds 3] [--warmup 1] [--prewarm 8] [--rounds-per-start 2] [--scenarios list,create] [--connections 64,256] [--json out.json]
//   bun bench/run.ts --growth [--seconds 5]
//   --reference-env KEY=VALUE (repeatable) passes diagnostics to bench/reference.ts:
//   REFERENCE_TIMESTAMPS=js|sql, REFERENCE_PREPARE=false, REFERENCE_INFLIGHT=10, REFERENCE_TOKEN_CACHE=1
//   --service-env KEY=VALUE (repeatable) passes diagnostics to the service, e.g. BUN_JSC_reportCompileTimes=1
//   --cpu-prof DIR: both servers write a CPU profile (markdown) there when they stop
//
// See bench/README.md for what it measures and how. Needs wrk (apt-get
// install wrk) and a PostgreSQL server: BENCH_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres (a role that may create databases).
// Not a test: `bun test` never runs it.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Subprocess, spawnSync } from 'bun'
import { sql as drizzleSql } from 'drizzle-orm'
import { drizzle as proxyDrizzle } from 'drizzle-orm/pg-proxy'
import { SignJWT } from 'jose'
import postgres, { type Sql } from 'postgres'
import type { Database } from '../src/db/client'
import { openDatabase } from '../src/db/client'
import * as schema from '../src/db/schema'
import { runStatementsWith } from '../src/db/statements'
import { listTasks } from '../src/tasks/queries'

// ---------------------------------------------------------------- options

const { values: options } = parseArgs({
  args: process.argv.slice(2),
  options: {
    growth: { type: 'boolean', default: false },
    embedded: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    prewarm: { type: 'string', default: '8' },
    // How many rounds each start of the two servers serves (each start pays for a prewarm).
    'rounds-per-start': { type: 'string', default: '2' },
    // The service's LOG_LEVEL: info (the default in production) writes a line per request.
    'log-level': { type: 'string', default: 'info' },
    scenarios: { type: 'string', default: 'list,create,get-one,update,toggle' },
    connections: { type: 'string', default: '64,256' },
    json: { type: 'string' },
    // Diagnostics: both servers write a CPU profile (markdown) into this folder when they stop.
    'cpu-prof': { type: 'string' },
    // Diagnostics: extra environment for the reference server, e.g. REFERENCE_PREPARE=false.
    'reference-env': { type: 'string', multiple: true, default: [] },
    // Diagnostics: extra environment for the service, e.g. BUN_JSC_reportCompileTimes=1.
    'service-env': { type: 'string', multiple: true, default: [] },
    // Diagnostics: another script in the reference's place (an A/B of two builds of the service, say).
    'reference-script': { type: 'string', default: 'bench/reference.ts' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
})

if (options.help) {
  const lines = readFileSync(import.meta.path, 'utf8').split('\n')
  console.log(
    lines
      .slice(
        0,
        lines.findIndex((line) => line.startsWith('import')),
      )
      .join('\n'),
  )
  process.exit(0)
}

function positiveInt(name: string, raw: string, max: number): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}`)
  return n
}

const ROUNDS = positiveInt('rounds', options.rounds!, 50)
const SECONDS = positiveInt('seconds', options.seconds!, 600)
const WARMUP = Number(options.warmup)
if (!Number.isInteger(WARMUP) || WARMUP < 0 || WARMUP > 60) throw new Error('--warmup must be an integer from 0 to 60')
const PREWARM = Number(options.prewarm)
if (!Number.isInteger(PREWARM) || PREWARM < 0 || PREWARM > 60) throw new Error('--prewarm must be an integer from 0 to 60')
const ROUNDS_PER_START = positiveInt('rounds-per-start', options['rounds-per-start']!, 50)
const ALL_SCENARIOS = ['list', 'create', 'get-one', 'update', 'toggle'] as const
type Scenario = (typeof ALL_SCENARIOS)[number]
const SCENARIOS = options.scenarios!.split(',').map((s) => {
  if (!(ALL_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${ALL_SCENARIOS.join(', ')})`)
  return s as Scenario
})
const CONNECTIONS = options.connections!.split(',').map((c) => positiveInt('connections', c, 10_000))

function environmentPairs(option: 'reference-env' | 'service-env'): Record<string, string> {
  return Object.fromEntries(
    options[option]!.map((pair) => {
      const at = pair.indexOf('=')
      if (at < 1) throw new Error(`--${option} takes KEY=VALUE, got ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}
const REFERENCE_ENV = environmentPairs('reference-env')
const SERVICE_ENV = environmentPairs('service-env')

const ROOT = join(import.meta.dir, '..')
const WRK_LUA = join(import.meta.dir, 'wrk.lua')
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BUN = process.execPath
const USERS = 1000
const TASKS_PER_USER = 50

// ---------------------------------------------------------------- environment checks

function which(command: string): string | null {
  return Bun.which(command)
}

function run(command: string[], timeoutMs = 10_000): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, { stdout: 'pipe', stderr: 'pipe', timeout: timeoutMs })
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() }
}

if (!which('wrk')) {
  console.error('bench: wrk is not installed (apt-get install wrk)')
  process.exit(1)
}
const TASKSET = which('taskset') !== null && cpus().length >= 2
if (!TASKSET) console.error('bench: taskset missing or a single core: processes are not pinned (numbers are noisier)')
const pin = (core: string): string[] => (TASKSET ? ['taskset', '-c', core] : [])
const CLK_TCK = Number(run(['getconf', 'CLK_TCK']).stdout.trim()) || 100

// ---------------------------------------------------------------- processes and cleanup

const children = new Set<Subprocess>()
const databases: string[] = []
let admin: Sql | undefined
let workDir: string | undefined
let cleaning: Promise<void> | undefined

function spawn(command: string[], opts: Parameters<typeof Bun.spawn>[1]): Subprocess {
  const child = Bun.spawn(command, opts)
  children.add(child)
  void child.exited.then(() => children.delete(child))
  return child
}

async function stopProcess(child: Subprocess, graceMs = 12_000): Promise<number | null> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(graceMs).then(() => false)])
  if (!exited) {
    child.kill('SIGKILL')
    await Promise.race([child.exited, Bun.sleep(3000)])
  }
  return child.exitCode
}

async function stopServers(servers: Record<string, { child: Subprocess }>): Promise<void> {
  for (const server of Object.values(servers)) await stopProcess(server.child)
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((child) => stopProcess(child, 5000)))
    if (admin) {
      for (const name of databases) {
        try {
          await admin.unsafe(`drop database if exists ${name} with (force)`)
        } catch (error) {
          console.error(`bench: could not drop ${name}: ${(error as Error).message}`)
        }
      }
      await admin.end({ timeout: 5 })
    }
    if (workDir) await rm(workDir, { recursive: true, force: true })
    restorePostgres?.()
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

const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`)

// ---------------------------------------------------------------- /proc

/** utime + stime of a process or thread, in clock ticks, from its stat file. */
function statTicks(path: string): number {
  try {
    const stat = readFileSync(path, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime + stime (fields 14 and 15)
  } catch {
    return 0
  }
}

function procTicks(pid: number): number {
  return statTicks(`/proc/${pid}/stat`)
}

/**
 * CPU ticks so far of each of the process's JIT compiler threads (JSC names
 * them JITWorker), by thread id. They run on the server's core: while they
 * compile, the server has less of it. A thread can end when idle, taking its
 * ticks with it, so windows are compared thread by thread (jitTicksSince).
 */
function jitThreadTicks(pid: number): Map<number, number> {
  const ticks = new Map<number, number>()
  let tasks: string[] = []
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return ticks // the process has ended
  }
  for (const task of tasks) {
    try {
      if (readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim() === 'JITWorker')
        ticks.set(Number(task), statTicks(`/proc/${pid}/task/${task}/stat`))
    } catch {
      // the thread has ended
    }
  }
  return ticks
}

/** Milliseconds of CPU the JIT threads spent since `before` (a thread that ended in between is not counted). */
function jitMsSince(pid: number, before: Map<number, number>): number {
  let spent = 0
  for (const [thread, ticks] of jitThreadTicks(pid)) spent += ticks - (before.get(thread) ?? 0)
  return (spent * 1000) / CLK_TCK
}

function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))
    return match ? Number(match[1]) : 0
  } catch {
    return 0
  }
}

/** Peak RSS over a run: VmHWM after resetting it (clear_refs 5), else the largest sampled VmRSS. */
function watchRss(pid: number) {
  let reset = false
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    reset = true
  } catch {}
  let sampled = procStatusKb(pid, 'VmRSS')
  const timer = setInterval(() => {
    sampled = Math.max(sampled, procStatusKb(pid, 'VmRSS'))
  }, 250)
  return {
    stop(): number {
      clearInterval(timer)
      sampled = Math.max(sampled, procStatusKb(pid, 'VmRSS'))
      return (reset ? Math.max(procStatusKb(pid, 'VmHWM'), sampled) : sampled) / 1024
    },
  }
}

// ---------------------------------------------------------------- database

async function createDatabase(prefix: string): Promise<{ name: string; url: string; sql: Sql }> {
  const name = `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`
  await admin!.unsafe(`create database ${name}`)
  databases.push(name)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {}, connect_timeout: 10, idle_timeout: 30 })
  return { name, url: url.toString(), sql }
}

/** The PostgreSQL backends serving the bench database, by application name. */
async function backends(database: string, application: string): Promise<number[]> {
  const rows = await admin!`select pid from pg_stat_activity where datname = ${database} and application_name = ${application}`
  return rows.map((row) => row.pid as number)
}

function parentOf(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)
  return match ? Number(match[1]) : 0
}

/** The processes of the PostgreSQL server: the postmaster and its children (background workers, backends). */
function postgresProcesses(postmaster: number): number[] {
  const pids = [postmaster]
  for (const entry of readdirSync('/proc'))
    if (/^\d+$/.test(entry))
      try {
        if (parentOf(Number(entry)) === postmaster) pids.push(Number(entry))
      } catch {} // exited meanwhile
  return pids
}

function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'
  } catch {
    return false
  }
}

let restorePostgres: (() => void) | undefined

/**
 * All of a local PostgreSQL server goes to core 1, not only the bench's
 * backends: its checkpointer, WAL writer and autovacuum workers on core 0
 * would take time from the server being measured. New backends inherit the
 * postmaster's core. Undone at clean-up. Nothing happens for a remote server.
 */
async function pinPostgres(): Promise<void> {
  if (!TASKSET) return
  const [backend] = await admin!<{ pid: number }[]>`select pg_backend_pid() as pid`
  // A remote server's backend pid may name some unrelated local process.
  if (!isPostgres(backend!.pid)) return
  const postmaster = parentOf(backend!.pid)
  if (!isPostgres(postmaster)) return
  const affinity = run(['taskset', '-p', '-c', String(postmaster)]).stdout.match(/list: (\S+)/)?.[1]
  if (!affinity) return
  for (const process of postgresProcesses(postmaster)) run(['taskset', '-p', '-c', '1', String(process)], 2000)
  restorePostgres = () => {
    for (const process of postgresProcesses(postmaster)) run(['taskset', '-p', '-c', affinity, String(process)], 2000)
  }
}

async function backendTicks(database: string, application: string): Promise<Map<number, number>> {
  const ticks = new Map<number, number>()
  for (const pid of await backends(database, application)) ticks.set(pid, procTicks(pid))
  return ticks
}

async function mintTokens(secret: string, users: string[]): Promise<Map<string, string>> {
  const key = new TextEncoder().encode(secret)
  const tokens = new Map<string, string>()
  for (const user of users)
    tokens.set(
      user,
      await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(user)
        .setIssuedAt()
        .setExpirationTime('3h')
        .sign(key),
    )
  return tokens
}

// ---------------------------------------------------------------- servers

type Kind = 'service' | 'reference'

interface Server {
  kind: Kind
  child: Subprocess
  pid: number
  port: number
  /** application_name of its database connections. */
  application: string
}

function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  return port
}

async function waitHealthy(child: Subprocess, port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before /health answered`)
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {}
    await Bun.sleep(5)
  }
  throw new Error(`/health did not answer 200 within ${timeoutMs} ms`)
}

/** Starts a server pinned to core 0; resolves when /health answers 200, with the time that took. */
/** Starts a server pinned to core 0 on PostgreSQL (a URL) or, for the service, on embedded PGlite ({ dataDir }). */
async function startServer(kind: Kind, database: string | { dataDir: string }, secret: string): Promise<Server & { startMs: number }> {
  const port = freePort()
  const script = kind === 'service' ? 'src/index.ts' : options['reference-script']!
  const started = performance.now()
  const profile = options['cpu-prof']
    ? ['--cpu-prof-md', `--cpu-prof-dir=${options['cpu-prof']}`, `--cpu-prof-name=${kind}-${port}.md`]
    : []
  const child = spawn([...pin('0'), BUN, ...profile, '--no-env-file', script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      PORT: String(port),
      ...(typeof database === 'string' ? { DATABASE_URL: database } : { DATA_DIR: database.dataDir }),
      BETTER_AUTH_SECRET: secret,
      DATABASE_POOL_MAX: '10',
      LOG_LEVEL: options['log-level']!,
      ...(kind === 'reference' ? REFERENCE_ENV : SERVICE_ENV),
    },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'inherit',
  })
  try {
    await waitHealthy(child, port, 60_000)
  } catch (error) {
    await stopProcess(child, 3000)
    throw new Error(`${kind}: ${(error as Error).message}`)
  }
  return {
    kind,
    child,
    pid: child.pid,
    port,
    application: kind === 'service' ? 'todo-api' : 'bench-reference',
    startMs: performance.now() - started,
  }
}

// ---------------------------------------------------------------- wrk

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

interface Load {
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
    env: { ...process.env, SCENARIO: load.scenario, TOKENS_FILE: load.tokensFile, LIST_QUERY: load.listQuery ?? 'limit=50' },
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
 * at most PREWARM seconds. With a fixed 3 s the service's JIT was still
 * compiling in each scenario's first measured run: FTL compiles of Elysia's
 * route handlers of 87-118 ms each, on the measured core (bench/README.md).
 */
async function prewarm(
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

interface Measurement {
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
async function measure(server: Server, database: string | undefined, load: Load, round = 0): Promise<Measurement> {
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
  const non2xx = Object.entries(result.statuses).reduce((sum, [status, n]) => sum + (status.startsWith('2') ? 0 : n), 0)
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
    errors: non2xx + socket,
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

// ---------------------------------------------------------------- same answers

/**
 * The comparison means something only if both servers do the same work: the
 * reads the benchmark sends must get the same status, body and headers from
 * both, and the writes answers of the same shape. Stops the run otherwise.
 */
async function checkSameAnswers(service: Server, reference: Server, token: string, ownId: number, otherToken: string): Promise<void> {
  const ask = async (server: Server, method: string, path: string, body?: unknown, bearer = token) => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    const header = (name: string) => response.headers.get(name)
    return { status: response.status, body: text ? JSON.parse(text) : undefined, header }
  }
  const differ = (what: string, a: unknown, b: unknown) => {
    throw new Error(`service and reference differ on ${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
  }
  for (const path of [
    '/api/tasks?limit=50',
    '/api/tasks?limit=10&offset=10',
    '/api/tasks?limit=20&offset=45',
    '/api/tasks?offset=1000',
    `/api/tasks/${ownId}`,
    '/api/tasks/2147483647',
  ])
    for (const bearer of [token, otherToken]) {
      const [s, r] = [await ask(service, 'GET', path, undefined, bearer), await ask(reference, 'GET', path, undefined, bearer)]
      if (s.status !== r.status) differ(`GET ${path} status`, s.status, r.status)
      if (!Bun.deepEquals(s.body, r.body)) differ(`GET ${path} body`, s.body, r.body)
      for (const name of ['x-total-count', 'link', 'etag'])
        if (s.header(name) !== r.header(name)) differ(`GET ${path} ${name}`, s.header(name), r.header(name))
    }
  const shape = (answer: Awaited<ReturnType<typeof ask>>) => ({
    status: answer.status,
    keys: Object.keys(answer.body ?? {}).sort(),
    etag: /^"\d+\.\d+"$/.test(answer.header('etag') ?? ''),
    location: /^\/api\/tasks\/\d+$/.test(answer.header('location') ?? ''),
  })
  for (const [method, path, body] of [
    ['POST', '/api/tasks', { title: 'bench check' }],
    ['PATCH', `/api/tasks/${ownId}`, { title: `bench check ${Date.now()}` }],
    ['PATCH', `/api/tasks/${ownId}/complete`, undefined],
  ] as const) {
    const [s, r] = [shape(await ask(service, method, path, body)), shape(await ask(reference, method, path, body))]
    if (!Bun.deepEquals(s, r)) differ(`${method} ${path}`, s, r)
  }
}

// ---------------------------------------------------------------- numbers and tables

/** The median of the finite values (NaN when there is none). */
function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  return [
    line(header),
    `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n')
}

async function environment(sql: Sql): Promise<string> {
  const [pg] = await sql`show server_version`
  const model = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/)?.[1] ?? 'unknown CPU'
  const wrkVersion = run(['wrk', '-v']).stdout.split('\n')[0]?.split(' ').slice(0, 2).join(' ') ?? 'wrk'
  const kernel = run(['uname', '-r']).stdout.trim()
  const commit = run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim() || 'unknown'
  const dirty = run(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src', 'drizzle']).stdout.trim()
    ? ' + uncommitted changes in src/'
    : ''
  return (
    `${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty}, ${cpus().length} cores (${model}), Linux ${kernel}, Bun ${Bun.version}, ` +
    `PostgreSQL ${pg?.server_version}, ${wrkVersion}; ${TASKSET ? 'servers on core 0, wrk and PostgreSQL on core 1' : 'no pinning'}`
  )
}

// ---------------------------------------------------------------- seeding

/** users × tasks rows of user ids prefix-<n>, through one INSERT ... SELECT generate_series, plus their quota rows. */
async function seed(sql: Sql, users: { prefix: string; from: number; to: number }, tasksPerUser: number): Promise<void> {
  for (const statement of seedStatements(users, tasksPerUser)) await sql.unsafe(statement)
}

function seedStatements(users: { prefix: string; from: number; to: number }, tasksPerUser: number): string[] {
  return [
    `
    insert into tasks (user_id, title, description, completed, priority, due_date, tags, created_at, updated_at)
    select '${users.prefix}' || u,
           'Task ' || t || case when t % 20 = 7 then ' buy word' else '' end,
           case when t % 10 = 1 then 'Notes on task ' || t || case when t % 30 = 1 then ', a word inside' else '' end end,
           t % 3 = 0,
           (array['low', 'medium', 'high'])[1 + t % 3]::task_priority,
           case when t % 5 = 0 then now() + t * interval '1 hour' end,
           case when t % 10 = 3 then array['x', 'work'] when t % 4 = 0 then array['home'] else '{}'::text[] end,
           now() - (${tasksPerUser} - t) * interval '1 minute' - u * interval '1 millisecond',
           now() - (${tasksPerUser} - t) * interval '1 minute' - u * interval '1 millisecond'
    from generate_series(${users.from}, ${users.to}) u cross join generate_series(1, ${tasksPerUser}) t`,
    `
    insert into task_quotas (user_id, task_count)
    select '${users.prefix}' || u, ${tasksPerUser} from generate_series(${users.from}, ${users.to}) u
    on conflict (user_id) do update set task_count = excluded.task_count`,
  ]
}

/** The SQL and values the service sends for a list query, captured from its own code (src/tasks/queries.ts). */
async function serviceListSql(userId: string, query: Parameters<typeof listTasks>[2]): Promise<{ sql: string; params: unknown[] }> {
  const captured: { sql: string; params: unknown[] }[] = []
  const db = proxyDrizzle(async () => ({ rows: [] }), { schema }) as unknown as Database
  runStatementsWith(db, async (sql, params) => {
    captured.push({ sql, params })
    return []
  })
  await listTasks(db, userId, query)
  return captured[0]!
}

// ---------------------------------------------------------------- default mode

let checkpointRefused = false

/** A checkpoint where the role may take one (superuser or pg_checkpoint); said once when it may not. */
async function checkpoint(sql: Sql, when: string): Promise<void> {
  if (checkpointRefused) return
  try {
    await sql`checkpoint`
  } catch (error) {
    checkpointRefused = true
    log(`bench: no checkpoint ${when} (${(error as Error).message}); write figures will be noisier`)
  }
}

/**
 * Every measured run starts from the same database: the seeded tasks only,
 * no dead rows, and a checkpoint just taken. Without it a run paid for the
 * runs before it: writes slowed run after run as the quota rows' dead
 * versions piled up until autovacuum came (5,900 -> 3,500 creates/s over
 * 25 s of inserts), and whichever run met a checkpoint paid its full-page writes.
 */
async function resetTables(sql: Sql, seeded: number): Promise<void> {
  await sql`delete from tasks where id > ${seeded}`
  await sql`update task_quotas set task_count = ${TASKS_PER_USER} where task_count <> ${TASKS_PER_USER}`
  await sql`vacuum tasks, task_quotas`
  await checkpoint(sql, 'between runs')
}

async function defaultMode(): Promise<void> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const db = await createDatabase('todo_bench')
  const env = await environment(db.sql)
  log(`database ${db.name}; ${env}`)

  // The service migrates the fresh database on its first start.
  const first = await startServer('service', db.url, secret)
  log(`service migrated the database and answered /health in ${fmt(first.startMs)} ms`)
  await stopProcess(first.child)

  const seeding = performance.now()
  await seed(db.sql, { prefix: 'bench-', from: 1, to: USERS }, TASKS_PER_USER)
  await db.sql`vacuum analyze tasks`
  await db.sql`vacuum analyze task_quotas`
  log(`seeded ${USERS} users x ${TASKS_PER_USER} tasks in ${fmt(performance.now() - seeding)} ms`)

  const users = Array.from({ length: USERS }, (_, i) => `bench-${i + 1}`)
  const tokens = await mintTokens(secret, users)
  const owned = await db.sql<{ user_id: string; id: number }[]>`select user_id, id from tasks order by user_id, id`
  const tokensFile = join(workDir!, 'tokens')
  await writeFile(tokensFile, `${owned.map((row) => `${tokens.get(row.user_id)} ${row.id}`).join('\n')}\n`)

  const [{ seeded } = { seeded: 0 }] = await db.sql<{ seeded: number }[]>`select max(id) as seeded from tasks`

  // Every ROUNDS_PER_START rounds both servers start afresh (a process can
  // carry an offset of its own; see bench/README.md) and are prewarmed
  // (prewarm). Within a start the rounds alternate which server runs first.
  // Every run starts from the seeded table (resetTables).
  const results: Measurement[] = []
  const totalRuns = SCENARIOS.length * CONNECTIONS.length * ROUNDS * 2
  let servers: Record<Kind, Server> | undefined
  for (let round = 0; round < ROUNDS; round++) {
    if (round % ROUNDS_PER_START === 0) {
      if (servers) await stopServers(servers)
      servers = { service: await startServer('service', db.url, secret), reference: await startServer('reference', db.url, secret) }
      if (round === 0) {
        await checkSameAnswers(
          servers.service,
          servers.reference,
          tokens.get('bench-1')!,
          owned.find((row) => row.user_id === 'bench-1')!.id,
          tokens.get('bench-2')!,
        )
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
          const w = await prewarm(servers[kind], scenario, tokensFile)
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
          const m = await measure(servers![kind], db.name, { scenario, connections, seconds: SECONDS, tokensFile }, round)
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
  console.log(`${USERS} users x ${TASKS_PER_USER} tasks; list = GET /api/tasks?limit=50; ratio = median of same-round service/reference\n`)
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
  if (options.json) writeFileSync(options.json, JSON.stringify({ environment: env, results }, null, 2))
}

// ---------------------------------------------------------------- growth mode

async function growthMode(): Promise<void> {
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
  await seed(db.sql, { prefix: 'g-', from: 1, to: 10_000 }, 100)
  for (const size of SIZES) await seed(db.sql, { prefix: `size${size}-`, from: 1, to: 1 }, size)
  await db.sql`vacuum analyze tasks`
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
  const tokens = await mintTokens(secret, [...sizeUsers, ...manyUsers])
  const fileFor = async (name: string, users: string[]) => {
    const file = join(workDir!, name)
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
    `tasks table: ${fmt(taskCount)} rows (10,000 users x 100 tasks, plus one user each of ${SIZES.map((s) => fmt(s)).join(', ')} tasks); seeded in ${fmt(seedSeconds, 1)} s\n`,
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

  print('\n### Filtered and searched lists over the whole table (random user of the 10,000 with 100 tasks each)\n')
  const manyFile = await fileFor('many', manyUsers)
  const manyRows: string[][] = []
  for (const [query, kinds] of [
    ['', ['service', 'reference']],
    ['status=pending', ['service']],
    ['tag=x', ['service']],
    ['q=word', ['service']],
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

  print('\n### EXPLAIN (ANALYZE, BUFFERS) of the SQL the service sends (captured from src/tasks/queries.ts)\n')
  const variants: [string, string, Parameters<typeof listTasks>[2]][] = [
    ['user with 10,000 tasks, default list', sizeUsers[3]!, { limit: 100, offset: 0 }],
    ['user with 10,000 tasks, limit=1000', sizeUsers[3]!, { limit: 1000, offset: 0 }],
    ['user with 10,000 tasks, status=pending', sizeUsers[3]!, { status: 'pending', limit: 100, offset: 0 }],
    ['user with 10,000 tasks, q=word', sizeUsers[3]!, { q: 'word', limit: 100, offset: 0 }],
    ['user with 100 tasks (1M-row table), status=pending', 'g-4242', { status: 'pending', limit: 100, offset: 0 }],
    ['user with 100 tasks (1M-row table), tag=x', 'g-4242', { tag: 'x', limit: 100, offset: 0 }],
    ['user with 100 tasks (1M-row table), q=word', 'g-4242', { q: 'word', limit: 100, offset: 0 }],
  ]
  print(
    'The servers run these as named prepared statements: PostgreSQL plans the first five executions for their ' +
      'values (custom plan) and may then switch to one plan for any value (generic plan), so both are shown.\n',
  )
  for (const [title, userId, query] of variants) {
    const { sql: text, params } = await serviceListSql(userId, query)
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

// ---------------------------------------------------------------- embedded mode

const EMBEDDED_USERS = 100

/**
 * The service on embedded PGlite (DATABASE_URL unset), as a newcomer runs it:
 * list and create at 1 and 64 connections. No reference and no target but
 * "no errors": PGlite is one in-process connection, so every query of every
 * request waits its turn.
 */
async function embeddedMode(): Promise<void> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const dataDir = join(workDir!, 'pglite')
  const seeding = performance.now()
  // The runner opens the data folder first (migrating it, as the service would) and seeds it with SQL.
  const handle = await openDatabase({ databaseUrl: undefined, dataDir, poolMax: 1, prepare: true, databaseTimeoutMs: 5000 })
  for (const statement of seedStatements({ prefix: 'e-', from: 1, to: EMBEDDED_USERS }, TASKS_PER_USER))
    await handle.db.execute(drizzleSql.raw(statement))
  const owned = (await handle.db.execute(drizzleSql.raw('select user_id, id from tasks order by user_id, id'))) as unknown as {
    rows: { user_id: string; id: number }[]
  }
  await handle.close()
  log(
    `embedded PGlite in ${dataDir}: migrated and seeded ${EMBEDDED_USERS} users x ${TASKS_PER_USER} tasks in ${fmt(performance.now() - seeding)} ms`,
  )

  const tokens = await mintTokens(
    secret,
    Array.from({ length: EMBEDDED_USERS }, (_, i) => `e-${i + 1}`),
  )
  const tokensFile = join(workDir!, 'tokens-embedded')
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

  const env = `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/)?.[1] ?? 'unknown CPU'}), Bun ${Bun.version}; service on core 0, wrk on core 1`
  console.log(`\n## Embedded PGlite: ${SECONDS} s per line after ${WARMUP} s warm-up\n`)
  console.log(env)
  console.log(`${EMBEDDED_USERS} users x ${TASKS_PER_USER} tasks; list = GET /api/tasks?limit=50; create = POST {"title"}\n`)
  console.log(table(['scenario', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU us/req', 'peak RSS MB', 'errors'], rows))
}

// ---------------------------------------------------------------- main

let failed = false
try {
  workDir = await mkdtemp(join(tmpdir(), 'todo-bench-'))
  admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 10 })
  await admin`select 1`
  if (!options.embedded) await pinPostgres()
  if (options.growth) await growthMode()
  else if (options.embedded) await embeddedMode()
  else await defaultMode()
} catch (error) {
  failed = true
  // After a signal the failure is the interruption itself, already reported.
  if (!cleaning) console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  await cleanup()
}
process.exit(failed ? 1 : 0)
