// The environment, parsed and validated once. Anything wrong stops the process
// at start with one line naming the variable (see src/index.ts).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Config {
  production: boolean
  port: number
  /** PostgreSQL URL; undefined means embedded PGlite. */
  databaseUrl: string | undefined
  /** A direct (not transaction-pooled) URL for LISTEN; DATABASE_URL unless set. */
  databaseListenUrl: string | undefined
  dataDir: string
  /** HS256 secret; undefined until resolved by ensureSecret in development. */
  jwtSecret: string | undefined
  betterAuthUrl: string | undefined
  jwksUrl: string | undefined
  jwtIssuer: string | undefined
  jwtAudience: string | undefined
  /** This service's external base URL (no trailing slash); undefined: each request's own origin. */
  publicUrl: string | undefined
  corsOrigins: string[]
  logLevel: LogLevel
  poolMax: number
  prepare: boolean
  /** How long a database operation may take before the request answers 503. */
  databaseTimeoutMs: number
  /** Proxies in front of the service whose X-Forwarded-For entries are trusted (0: use the socket address). */
  trustProxy: number
  /** Whether webhook URLs may reach loopback (127/8, ::1, localhost): local development and tests. */
  webhookAllowLoopback: boolean
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`)
  }
}

type Env = Record<string, string | undefined>

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
export const MIN_SECRET_LENGTH = 32

function value(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim()
  return raw ? raw : undefined
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = value(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got "${raw}"`)
  return Number(raw)
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = value(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (['true', '1', 'yes', 'on'].includes(raw)) return true
  if (['false', '0', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(name, `must be true or false, got "${raw}"`)
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = value(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    // Never echo the value: a database URL carries a password.
    throw new ConfigError(name, 'is not a valid URL')
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`)
  return raw
}

// A base URL that links are made from: no query or fragment, no trailing slash.
function baseUrl(env: Env, name: string): string | undefined {
  const raw = url(env, name, ['http:', 'https:'])
  if (raw === undefined) return undefined
  const parsed = new URL(raw)
  if (parsed.search || parsed.hash || parsed.username || parsed.password)
    throw new ConfigError(name, 'must be a base URL such as https://api.example.com, without credentials, query or fragment')
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`
}

function origin(raw: string): string {
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError('CORS_ORIGINS', `"${raw}" is not an origin such as https://app.example.com`)
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== raw.replace(/\/$/, ''))
    throw new ConfigError('CORS_ORIGINS', `"${raw}" is not an origin such as https://app.example.com`)
  return parsed.origin
}

export function loadConfig(env: Env): Config {
  const production = value(env, 'NODE_ENV') === 'production'
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']) ?? url(env, 'NEON_DB_URL', ['postgres:', 'postgresql:'])
  const databaseListenUrl = url(env, 'DATABASE_LISTEN_URL', ['postgres:', 'postgresql:']) ?? databaseUrl
  const secretName = value(env, 'BETTER_AUTH_SECRET') ? 'BETTER_AUTH_SECRET' : 'JWT_SECRET'
  const jwtSecret = value(env, secretName)
  if (jwtSecret !== undefined && jwtSecret.length < MIN_SECRET_LENGTH)
    throw new ConfigError(secretName, `must be at least ${MIN_SECRET_LENGTH} characters`)
  if (jwtSecret === undefined && production)
    throw new ConfigError(
      'BETTER_AUTH_SECRET',
      'is required when NODE_ENV=production (at least 32 characters, e.g. `openssl rand -base64 32`)',
    )

  const betterAuthUrl = url(env, 'BETTER_AUTH_URL', ['http:', 'https:'])?.replace(/\/+$/, '')
  const jwksUrl = url(env, 'JWKS_URL', ['http:', 'https:']) ?? (betterAuthUrl ? `${betterAuthUrl}/api/auth/jwks` : undefined)

  const logLevel = (value(env, 'LOG_LEVEL')?.toLowerCase() ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)

  const origins = (value(env, 'CORS_ORIGINS') ?? 'http://localhost:3000')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map(origin)

  return {
    production,
    port: integer(env, 'PORT', 8000, 0, 65535),
    databaseUrl,
    databaseListenUrl,
    dataDir: value(env, 'DATA_DIR') ?? './.data',
    jwtSecret,
    betterAuthUrl,
    jwksUrl,
    jwtIssuer: value(env, 'JWT_ISSUER'),
    jwtAudience: value(env, 'JWT_AUDIENCE'),
    publicUrl: baseUrl(env, 'PUBLIC_URL'),
    corsOrigins: origins,
    logLevel,
    poolMax: integer(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    prepare: boolean(env, 'DATABASE_PREPARE', true),
    databaseTimeoutMs: integer(env, 'DATABASE_TIMEOUT_MS', 2000, 100, 600_000),
    trustProxy: integer(env, 'TRUST_PROXY', 0, 0, 10),
    webhookAllowLoopback: boolean(env, 'WEBHOOK_ALLOW_LOOPBACK', !production),
  }
}
