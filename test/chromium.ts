// What the browser tests share: Debian's headless Chromium (skipped, with a
// message, where it is not installed), a frontend origin serving one page, the
// service listening for it, and a screenshot when a step in the page fails.
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { type AppDeps, createApp } from '../src/app'
import { database, logger, testConfig } from './support'

const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`)

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export function pageServer(html: string, hostname: string, port: number) {
  return Bun.serve({ hostname, port, fetch: () => new Response(html, { headers: { 'content-type': 'text/html' } }) })
}

// The frontend's origin is http://localhost:3000 as in the contract; another port only if 3000 is taken.
export function frontendServer(html: string) {
  try {
    return pageServer(html, 'localhost', 3000)
  } catch {
    return pageServer(html, 'localhost', 0)
  }
}

/** The service on a port of its own, allowing the frontend's `origin` (CORS). */
export async function listeningApi(origin: string, deps: Partial<Pick<AppDeps, 'logger' | 'live'>> = {}) {
  const config = testConfig({ CORS_ORIGINS: origin })
  const service = (await createApp({ database, config, logger, ...deps })).listen({ hostname: '127.0.0.1', port: 0 })
  return { url: `http://127.0.0.1:${service.server!.port}`, stop: () => service.stop(true) }
}

// Made on the first failure only.
let screenshots: Promise<string> | undefined

/** Runs `run`; when it throws, saves a screenshot of `page` and names the file in the error. */
export async function onFailureScreenshot<T>(page: Page, name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    screenshots ??= mkdtemp(join(tmpdir(), 'todo-browser-'))
    const file = join(await screenshots, `${name}.png`)
    await page.screenshot({ path: file, fullPage: true }).catch(() => {})
    throw new Error(`${(error as Error).message}\nscreenshot: ${file}`)
  }
}
