// What the runner prints: progress lines, medians, numbers, markdown tables,
// and the one line that says where and on what the figures were measured.

import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { Sql } from 'postgres'
import { options, ROOT } from './options'
import { run, TASKSET } from './processes'

/** A progress line on stderr, so that stdout holds only the report. */
export const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`)

/** The median of the finite values (NaN when there is none). */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A markdown table: the first two columns left-aligned, the figures right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`
  return [
    line(header),
    `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n')
}

export function cpuModel(): string {
  return readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/)?.[1] ?? 'unknown CPU'
}

function pinning(): string {
  if (!TASKSET) return 'no pinning'
  return options['pin-postgres']
    ? 'servers on core 0, wrk and PostgreSQL on core 1'
    : 'servers on core 0, wrk on core 1, PostgreSQL not pinned'
}

export async function environment(sql: Sql): Promise<string> {
  const [pg] = await sql`show server_version`
  const model = cpuModel()
  const wrkVersion = run(['wrk', '-v']).stdout.split('\n')[0]?.split(' ').slice(0, 2).join(' ') ?? 'wrk'
  const kernel = run(['uname', '-r']).stdout.trim()
  const commit = run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim() || 'unknown'
  const dirty = run(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src', 'drizzle']).stdout.trim()
    ? ' + uncommitted changes in src/'
    : ''
  return (
    `${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty}, ${cpus().length} cores (${model}), Linux ${kernel}, Bun ${Bun.version}, ` +
    `PostgreSQL ${pg?.server_version}, ${wrkVersion}; ${pinning()}`
  )
}
