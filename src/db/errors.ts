import { AppError, ErrorCode } from '../errors'

const DATABASE_PROBLEMS = {
  down: [ErrorCode.DATABASE_UNAVAILABLE, 'The database is unavailable; try again shortly'],
  timeout: [ErrorCode.DATABASE_TIMEOUT, 'The database took too long to answer; try again'],
  busy: [ErrorCode.DATABASE_BUSY, 'Every database connection is busy; try again shortly'],
} as const

/** The database cannot serve this request now: the client may retry shortly. */
export class DatabaseUnavailable extends AppError {
  constructor(problem: keyof typeof DATABASE_PROBLEMS = 'down') {
    const [code, detail] = DATABASE_PROBLEMS[problem]
    super(code, detail, 2)
  }
}

// postgres.js connection failures (its own codes and Node's socket codes).
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
])

// SQLSTATEs that mean "the server cannot serve this now", not "the query is wrong":
// 08 connection exception, 53 insufficient resources, 57P0x shutdown/cannot
// connect, 40 transaction rollback (a deadlock or serialization failure: the
// transaction was rolled back whole, and running it again succeeds).
function unavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('40') || code === '57P01' || code === '57P02' || code === '57P03'
}

type DriverError = Error & { code: string; constraint_name?: string; constraint?: string }

/** The driver's error under any wrapper: the first one that carries a code. */
function driverErrorOf(error: unknown): DriverError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++)
    if (typeof (current as { code?: unknown }).code === 'string') return current as DriverError
  return undefined
}

/** The SQLSTATE of a driver error, under any wrapper. */
export function sqlStateOf(error: unknown): string | undefined {
  return driverErrorOf(error)?.code
}

/** The constraint a driver error names (postgres.js calls it constraint_name, PGlite constraint). */
export function constraintOf(error: unknown): string | undefined {
  const driverError = driverErrorOf(error)
  return driverError?.constraint_name ?? driverError?.constraint
}

/**
 * Maps a driver error (wrapped by drizzle in DrizzleQueryError, whose cause
 * holds the driver's error) to a 503, or undefined when it is not about
 * availability.
 */
export function toDatabaseUnavailable(error: unknown): DatabaseUnavailable | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code !== 'string') continue
    if (code === '57014') return new DatabaseUnavailable('timeout')
    if (CONNECTION_CODES.has(code) || unavailableSqlState(code)) return new DatabaseUnavailable()
  }
  return undefined
}
