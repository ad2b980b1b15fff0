// The command line of bench/run.ts, parsed and checked once, and the fixed
// settings of a run. --help prints run.ts's opening comment.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

export const { values: options } = parseArgs({
  args: process.argv.slice(2),
  options: {
    growth: { type: 'boolean', default: false },
    embedded: { type: 'boolean', default: false },
    streams: { type: 'boolean', default: false },
    reminders: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    prewarm: { type: 'string', default: '8' },
    // How many rounds each start of the two servers serves (each start pays for a prewarm).
    'rounds-per-start': { type: 'string', default: '2' },
    // The service's LOG_LEVEL: info (the default in production) writes a line per request.
    'log-level': { type: 'string', default: 'info' },
    scenarios: { type: 'string', default: 'list,revalidate,create,get-one,update,toggle,lists,list-tasks,mcp-list' },
    connections: { type: 'string', default: '64' },
    json: { type: 'string' },
    // Diagnostics: both servers write a CPU profile (markdown) into this folder when they stop.
    'cpu-prof': { type: 'string' },
    // Diagnostics: extra environment for the reference server, e.g. REFERENCE_PREPARE=false.
    'reference-env': { type: 'string', multiple: true, default: [] },
    // Diagnostics: extra environment for the service, e.g. BUN_JSC_reportCompileTimes=1.
    'service-env': { type: 'string', multiple: true, default: [] },
    // Diagnostics: another script in the reference's place (an A/B of two builds of the service, say).
    'reference-script': { type: 'string', default: 'bench/reference.ts' },
    // Diagnostics: wrk counts responses by status (they cost it more per response; see wrk.lua).
    statuses: { type: 'boolean', default: false },
    // --no-same-answers skips the check that both servers answer alike: an A/B against an older service whose answers differ.
    'same-answers': { type: 'boolean', default: true },
    // --no-pin-postgres leaves a shared local PostgreSQL server on its cores, for whoever else uses it meanwhile.
    'pin-postgres': { type: 'boolean', default: true },
    help: { type: 'boolean', default: false },
  },
  allowNegative: true,
  strict: true,
})

if (options.help) {
  const lines = readFileSync(join(import.meta.dir, 'run.ts'), 'utf8').split('\n')
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

export const ROUNDS = positiveInt('rounds', options.rounds!, 50)
export const SECONDS = positiveInt('seconds', options.seconds!, 600)
export const WARMUP = Number(options.warmup)
if (!Number.isInteger(WARMUP) || WARMUP < 0 || WARMUP > 60) throw new Error('--warmup must be an integer from 0 to 60')
export const PREWARM = Number(options.prewarm)
if (!Number.isInteger(PREWARM) || PREWARM < 0 || PREWARM > 60) throw new Error('--prewarm must be an integer from 0 to 60')
export const ROUNDS_PER_START = positiveInt('rounds-per-start', options['rounds-per-start']!, 50)
const ALL_SCENARIOS = ['list', 'revalidate', 'create', 'get-one', 'update', 'toggle', 'lists', 'list-tasks', 'mcp-list'] as const
export type Scenario = (typeof ALL_SCENARIOS)[number]
export const SCENARIOS = options.scenarios!.split(',').map((s) => {
  if (!(ALL_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${ALL_SCENARIOS.join(', ')})`)
  return s as Scenario
})
export const CONNECTIONS = options.connections!.split(',').map((c) => positiveInt('connections', c, 10_000))

function environmentPairs(option: 'reference-env' | 'service-env'): Record<string, string> {
  return Object.fromEntries(
    options[option]!.map((pair) => {
      const at = pair.indexOf('=')
      if (at < 1) throw new Error(`--${option} takes KEY=VALUE, got ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}
export const REFERENCE_ENV = environmentPairs('reference-env')
export const SERVICE_ENV = environmentPairs('service-env')

export const ROOT = join(import.meta.dir, '..')
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const USERS = 1000
// Each seeded user's lists and tasks: the tasks go round-robin into its first
// lists (the default list first), 10 in each; its other lists are empty.
export const STOCK = { lists: 50, tasks: 50, listsHoldingTasks: 5 }
