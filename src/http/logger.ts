import type { LogLevel } from '../config'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type Logger = Record<LogLevel, (message: string, fields?: Record<string, unknown>) => void> & {
  /** Whether lines of this level are written: lets a hot path skip building fields for nothing. */
  enabled(level: LogLevel): boolean
}

/** One JSON object per line on stdout; the caller never passes tokens or passwords. */
export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const at = (lineLevel: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (RANK[lineLevel] < RANK[level]) return
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lineLevel, message, ...fields })}\n`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), enabled: (lineLevel) => RANK[lineLevel] >= RANK[level] }
}
