// The processes the runner starts: short commands, pinned children (the
// servers and wrk), and stopping them within a bound.

import { cpus } from 'node:os'
import { type Subprocess, spawnSync } from 'bun'

export function run(command: string[], timeoutMs = 10_000): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, { stdout: 'pipe', stderr: 'pipe', timeout: timeoutMs })
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() }
}

export const TASKSET = Bun.which('taskset') !== null && cpus().length >= 2
export const pin = (core: string): string[] => (TASKSET ? ['taskset', '-c', core] : [])

/** Stops the run when wrk is missing; says so when nothing can be pinned. */
export function checkHost(): void {
  if (!Bun.which('wrk')) {
    console.error('bench: wrk is not installed (apt-get install wrk)')
    process.exit(1)
  }
  if (!TASKSET) console.error('bench: taskset missing or a single core: processes are not pinned (numbers are noisier)')
}

const children = new Set<Subprocess>()

export function spawn(command: string[], opts: Parameters<typeof Bun.spawn>[1]): Subprocess {
  const child = Bun.spawn(command, opts)
  children.add(child)
  void child.exited.then(() => children.delete(child))
  return child
}

// The children stopProcess was asked to stop: any other exit is a surprise worth saying.
const stopping = new WeakSet<Subprocess>()

/** Says (on stderr) when `name` exits without stopProcess having asked it to: killed, crashed, or ended by itself. */
export function reportUnexpectedExit(child: Subprocess, name: string): void {
  void child.exited.then(() => {
    if (!stopping.has(child))
      console.error(`bench: ${name} (pid ${child.pid}) exited unexpectedly: ${child.signalCode ?? `exit code ${child.exitCode}`}`)
  })
}

export async function stopProcess(child: Subprocess, graceMs = 12_000): Promise<number | null> {
  stopping.add(child)
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(graceMs).then(() => false)])
  if (!exited) {
    child.kill('SIGKILL')
    await Promise.race([child.exited, Bun.sleep(3000)])
  }
  return child.exitCode
}

/** Every child still running, at clean-up. */
export async function stopChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopProcess(child, 5000)))
}
