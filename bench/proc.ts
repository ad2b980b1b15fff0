// What /proc says about a process: its CPU, its JIT threads' CPU, its peak
// memory, its parent.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { run } from './processes'

export const CLK_TCK = Number(run(['getconf', 'CLK_TCK']).stdout.trim()) || 100

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

export function procTicks(pid: number): number {
  return statTicks(`/proc/${pid}/stat`)
}

/**
 * CPU ticks so far of each of the process's JIT compiler threads (JSC names
 * them JITWorker), by thread id. They run on the server's core: while they
 * compile, the server has less of it. A thread can end when idle, taking its
 * ticks with it, so windows are compared thread by thread (jitMsSince).
 */
export function jitThreadTicks(pid: number): Map<number, number> {
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
export function jitMsSince(pid: number, before: Map<number, number>): number {
  let spent = 0
  for (const [thread, ticks] of jitThreadTicks(pid)) spent += ticks - (before.get(thread) ?? 0)
  return (spent * 1000) / CLK_TCK
}

export function procStatusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))
    return match ? Number(match[1]) : 0
  } catch {
    return 0
  }
}

/** Peak RSS over a run: VmHWM after resetting it (clear_refs 5), else the largest sampled VmRSS. */
export function watchRss(pid: number) {
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

export function parentOf(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)
  return match ? Number(match[1]) : 0
}

/** The processes of the PostgreSQL server: the postmaster and its children (background workers, backends). */
export function postgresProcesses(postmaster: number): number[] {
  const pids = [postmaster]
  for (const entry of readdirSync('/proc'))
    if (/^\d+$/.test(entry))
      try {
        if (parentOf(Number(entry)) === postmaster) pids.push(Number(entry))
      } catch {} // exited meanwhile
  return pids
}

export function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'
  } catch {
    return false
  }
}
