import type { LogLevel } from '../config'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** `fields` never use the keys `time`, `level` and `message`: every line starts with those. */
export type Logger = Record<LogLevel, (message: string, fields?: Record<string, unknown>) => void> & {
  /** Whether lines of this level are written: lets a hot path skip building fields for nothing. */
  enabled(level: LogLevel): boolean
}

// Many lines fall in one millisecond under load: its ISO text is built once.
let stampedAt = Number.NaN
let stamp = ''
function timestamp(): string {
  const now = Date.now()
  if (now !== stampedAt) {
    stampedAt = now
    stamp = new Date(now).toISOString()
  }
  return stamp
}

/** One JSON object per line on stdout; the caller never passes tokens or passwords. */
export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const at = (lineLevel: LogLevel) => {
    const head = `","level":"${lineLevel}","message":`
    return (message: string, fields?: Record<string, unknown>) => {
      if (RANK[lineLevel] < RANK[level]) return
      // The fields are serialised as given and spliced in after the fixed
      // keys, not copied into a new object first: a line costs half as much.
      const serialised = fields === undefined ? '{}' : JSON.stringify(fields)
      const rest = serialised.length > 2 ? `,${serialised.slice(1)}` : '}'
      write(`{"time":"${timestamp()}${head}${JSON.stringify(message)}${rest}\n`)
    }
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    enabled: (lineLevel) => RANK[lineLevel] >= RANK[level],
  }
}
