import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MIN_SECRET_LENGTH } from '../config'
import type { Logger } from '../http/logger'

/**
 * Development only (config refuses a missing secret in production): a random
 * secret kept in DATA_DIR so tokens survive restarts, or per process when
 * DATA_DIR is in memory.
 */
export async function developmentSecret(dataDir: string, logger: Logger): Promise<string> {
  const generate = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  if (dataDir.includes('://')) {
    logger.warn('BETTER_AUTH_SECRET is not set: using a random secret for this process only (tokens die with it)')
    return generate()
  }
  const file = join(dataDir, 'jwt-secret')
  const kept = await readFile(file, 'utf8').catch(() => '')
  if (kept.trim().length >= MIN_SECRET_LENGTH) {
    logger.warn(`BETTER_AUTH_SECRET is not set: using the development secret kept in ${file}`)
    return kept.trim()
  }
  await mkdir(dataDir, { recursive: true })
  const secret = generate()
  await writeFile(file, `${secret}\n`, { mode: 0o600 })
  await chmod(file, 0o600)
  logger.warn(`BETTER_AUTH_SECRET is not set: generated a development secret and kept it in ${file}; set it in production`)
  return secret
}
