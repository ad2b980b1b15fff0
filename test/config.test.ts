import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { developmentSecret } from '../src/auth/secret'
import { ConfigError, loadConfig } from '../src/config'
import { createLogger } from '../src/http/logger'

const PASSWORD = 'pa55-Wörd-s3cr3t'
const SECRET = 'a-shared-secret-that-is-long-enough-123'

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

describe('loadConfig', () => {
  test('defaults', () => {
    expect(loadConfig({})).toEqual({
      production: false,
      port: 8000,
      databaseUrl: undefined,
      databaseListenUrl: undefined,
      dataDir: './.data',
      jwtSecret: undefined,
      betterAuthUrl: undefined,
      jwksUrl: undefined,
      jwtIssuer: undefined,
      jwtAudience: undefined,
      publicUrl: undefined,
      corsOrigins: ['http://localhost:3000'],
      logLevel: 'info',
      poolMax: 10,
      prepare: true,
      databaseTimeoutMs: 2000,
      trustProxy: 0,
      webhookAllowLoopback: true,
    })
  })

  test('WEBHOOK_ALLOW_LOOPBACK: on outside production, off in production unless set', () => {
    expect(loadConfig({ WEBHOOK_ALLOW_LOOPBACK: 'false' }).webhookAllowLoopback).toBe(false)
    const production = { NODE_ENV: 'production', BETTER_AUTH_SECRET: 'x'.repeat(32) }
    expect(loadConfig(production).webhookAllowLoopback).toBe(false)
    expect(loadConfig({ ...production, WEBHOOK_ALLOW_LOOPBACK: 'true' }).webhookAllowLoopback).toBe(true)
    expect(() => loadConfig({ WEBHOOK_ALLOW_LOOPBACK: 'maybe' })).toThrow('WEBHOOK_ALLOW_LOOPBACK')
  })

  test('blank values count as unset', () => {
    expect(loadConfig({ PORT: '', LOG_LEVEL: '  ', DATABASE_URL: '', CORS_ORIGINS: '' })).toMatchObject({
      port: 8000,
      logLevel: 'info',
      databaseUrl: undefined,
      corsOrigins: ['http://localhost:3000'],
    })
  })

  test('every variable is read', () => {
    const config = loadConfig({
      PORT: '3001',
      DATA_DIR: 'memory://',
      LOG_LEVEL: 'DEBUG',
      DATABASE_POOL_MAX: '25',
      DATABASE_PREPARE: 'false',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173/',
      JWT_ISSUER: 'https://iss.example',
      JWT_AUDIENCE: 'todo',
    })
    expect(config).toMatchObject({
      port: 3001,
      dataDir: 'memory://',
      logLevel: 'debug',
      poolMax: 25,
      prepare: false,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      jwtIssuer: 'https://iss.example',
      jwtAudience: 'todo',
    })
  })

  test('DATABASE_URL, its alias NEON_DB_URL, and which wins', () => {
    const url = `postgresql://neondb_owner:${encodeURIComponent(PASSWORD)}@ep-x-pooler.db.example.com/neondb?sslmode=require`
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url)
    expect(loadConfig({ NEON_DB_URL: url }).databaseUrl).toBe(url)
    expect(loadConfig({ DATABASE_URL: 'postgres://a@db:5432/one', NEON_DB_URL: url }).databaseUrl).toBe('postgres://a@db:5432/one')
    // LISTEN goes to DATABASE_LISTEN_URL when set (a pooler cannot carry it), else to the database itself.
    expect(loadConfig({ DATABASE_URL: url }).databaseListenUrl).toBe(url)
    expect(loadConfig({ DATABASE_URL: url, DATABASE_LISTEN_URL: 'postgres://a@direct:5432/one' }).databaseListenUrl).toBe(
      'postgres://a@direct:5432/one',
    )
  })

  test('BETTER_AUTH_SECRET, its alias JWT_SECRET, and which wins', () => {
    expect(loadConfig({ BETTER_AUTH_SECRET: SECRET }).jwtSecret).toBe(SECRET)
    expect(loadConfig({ JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET)
    expect(loadConfig({ BETTER_AUTH_SECRET: SECRET, JWT_SECRET: `${SECRET}-other` }).jwtSecret).toBe(SECRET)
  })

  const invalid: [variable: string, value: string][] = [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_LEVEL', 'trace'],
    ['DATABASE_POOL_MAX', '0'],
    ['DATABASE_POOL_MAX', 'ten'],
    ['DATABASE_POOL_MAX', '-5'],
    ['DATABASE_PREPARE', 'maybe'],
    ['DATABASE_PREPARE', '2'],
    ['CORS_ORIGINS', 'not an origin'],
    ['CORS_ORIGINS', 'http://localhost:3000,ftp://files.example'],
    ['CORS_ORIGINS', 'https://app.example.com/path'],
    ['DATABASE_URL', `postgres//admin:${PASSWORD}@db.example.com/todo`],
    ['DATABASE_URL', `mysql://admin:${PASSWORD}@db.example.com/todo`],
    ['DATABASE_URL', `https://admin:${PASSWORD}@db.example.com/todo`],
    ['DATABASE_LISTEN_URL', `mysql://admin:${PASSWORD}@db.example.com/todo`],
    ['NEON_DB_URL', `admin:${PASSWORD}@ep-x.db.example.com/neondb`],
    ['BETTER_AUTH_URL', 'localhost:3000'],
    ['JWKS_URL', 'file:///etc/jwks.json'],
    ['PUBLIC_URL', 'api.example.com'],
    ['PUBLIC_URL', 'ftp://api.example.com'],
    ['PUBLIC_URL', 'https://api.example.com/?x=1'],
    ['PUBLIC_URL', 'https://api.example.com/#top'],
    ['PUBLIC_URL', `https://admin:${PASSWORD}@api.example.com`],
  ]
  for (const [variable, value] of invalid) {
    test(`${variable}=${value.replace(PASSWORD, '***')} is a ConfigError naming ${variable}`, () => {
      const error = configError({ [variable]: value })
      expect(error.message).toContain(variable)
      expect(error.message).not.toContain(PASSWORD)
      expect(error.message).not.toContain(encodeURIComponent(PASSWORD))
      expect(error.message).not.toContain('\n')
    })
  }

  test('a secret under 32 characters is rejected, named, and not echoed', () => {
    for (const variable of ['BETTER_AUTH_SECRET', 'JWT_SECRET']) {
      const error = configError({ [variable]: 'too-short-secret-31-characters!' })
      expect(error.message).toContain(variable)
      expect(error.message).toContain('32')
      expect(error.message).not.toContain('too-short-secret')
    }
    expect(loadConfig({ BETTER_AUTH_SECRET: 'x'.repeat(32) }).jwtSecret).toBe('x'.repeat(32))
  })

  test('NODE_ENV=production requires a secret and says BETTER_AUTH_SECRET', () => {
    const error = configError({ NODE_ENV: 'production', DATABASE_URL: `postgres://u:${PASSWORD}@db/todo` })
    expect(error.message).toContain('BETTER_AUTH_SECRET')
    expect(error.message).not.toContain(PASSWORD)
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET })).toMatchObject({ production: true, jwtSecret: SECRET })
  })

  test('BETTER_AUTH_URL derives the JWKS URL; JWKS_URL overrides it', () => {
    expect(loadConfig({ BETTER_AUTH_URL: 'https://app.example.com' })).toMatchObject({
      betterAuthUrl: 'https://app.example.com',
      jwksUrl: 'https://app.example.com/api/auth/jwks',
    })
    expect(loadConfig({ BETTER_AUTH_URL: 'https://app.example.com/' }).jwksUrl).toBe('https://app.example.com/api/auth/jwks')
    expect(loadConfig({ BETTER_AUTH_URL: 'https://app.example.com', JWKS_URL: 'https://keys.example.com/jwks.json' })).toMatchObject({
      betterAuthUrl: 'https://app.example.com',
      jwksUrl: 'https://keys.example.com/jwks.json',
    })
    expect(loadConfig({ JWKS_URL: 'https://keys.example.com/jwks.json' }).jwksUrl).toBe('https://keys.example.com/jwks.json')
  })

  test('PUBLIC_URL is a base URL without its trailing slash; unset, each request names its own', () => {
    expect(loadConfig({}).publicUrl).toBeUndefined()
    expect(loadConfig({ PUBLIC_URL: 'https://api.example.com/' }).publicUrl).toBe('https://api.example.com')
    expect(loadConfig({ PUBLIC_URL: 'https://example.com/todo//' }).publicUrl).toBe('https://example.com/todo')
  })
})

describe('developmentSecret', () => {
  const lines: string[] = []
  const logger = createLogger('debug', (line) => void lines.push(line))
  const warnings = () => lines.map((line) => JSON.parse(line)).filter((line) => line.level === 'warn')
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  test('creates a 0600 secret file in DATA_DIR once, reuses it, and warns', async () => {
    const root = await mkdtemp(join(tmpdir(), 'todo-secret-'))
    dirs.push(root)
    const dataDir = join(root, 'nested', 'data')
    lines.length = 0
    const first = await developmentSecret(dataDir, logger)
    expect(first.length).toBeGreaterThanOrEqual(32)
    const files = await readdir(dataDir)
    expect(files).toHaveLength(1)
    const file = join(dataDir, files[0]!)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readFile(file, 'utf8')).trim()).toBe(first)
    expect(warnings()).toHaveLength(1)
    expect(warnings()[0].message).toContain('BETTER_AUTH_SECRET')
    expect(lines.join('')).not.toContain(first)

    const second = await developmentSecret(dataDir, logger)
    expect(second).toBe(first)
    expect(warnings()).toHaveLength(2)
    expect(lines.join('')).not.toContain(first)
  })

  test('two data directories get different secrets', async () => {
    const a = await mkdtemp(join(tmpdir(), 'todo-secret-'))
    const b = await mkdtemp(join(tmpdir(), 'todo-secret-'))
    dirs.push(a, b)
    expect(await developmentSecret(a, logger)).not.toBe(await developmentSecret(b, logger))
  })

  test('memory:// gives a fresh secret per call, writes nothing, and warns', async () => {
    const before = existsSync('memory:')
    lines.length = 0
    const one = await developmentSecret('memory://', logger)
    const two = await developmentSecret('memory://', logger)
    expect(one.length).toBeGreaterThanOrEqual(32)
    expect(two.length).toBeGreaterThanOrEqual(32)
    expect(one).not.toBe(two)
    expect(existsSync('memory:')).toBe(before)
    expect(existsSync(join('memory:', 'jwt-secret'))).toBe(false)
    expect(warnings()).toHaveLength(2)
    expect(lines.join('')).not.toContain(one)
  })
})
