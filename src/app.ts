import { Elysia } from 'elysia'
import packageJson from '../package.json'
import { authPlugin } from './auth/plugin'
import { type AuthLimits, authRoutes, DEFAULT_AUTH_LIMITS } from './auth/routes'
import { createTokens } from './auth/tokens'
import type { Config } from './config'
import type { DatabaseHandle } from './db/client'
import { docsRoutes } from './docs/routes'
import { createHub, type Hub } from './events/hub'
import { localNotifier, type Notifier } from './events/notifier'
import { changePublisher } from './events/publisher'
import { eventRoutes } from './events/routes'
import { healthRoutes } from './health/routes'
import { corsPolicy } from './http/cors'
import { errorHandler } from './http/error-handler'
import { SERVER_BODY_LIMIT } from './http/json-body'
import type { Logger } from './http/logger'
import { accessLog, requestLog } from './http/request-log'
import { listRoutes } from './lists/routes'
import { resourceChallenge } from './mcp/metadata'
import { mcpRoutes } from './mcp/routes'
import { recurrenceRoutes } from './recurrence/routes'
import { settingsRoutes } from './settings/routes'
import { cursorCodec } from './sync/cursor'
import { syncRoutes } from './sync/routes'
import { taskRoutes } from './tasks/routes'
import { destinationPolicy } from './webhooks/destinations'
import { webhookRoutes } from './webhooks/routes'
import type { ChangeWebhookUsers } from './webhooks/worker'

/** This instance's live streams and how changes reach them (src/events). */
export interface Live {
  hub: Hub
  notifier: Notifier
  /** Between the comment lines that keep a quiet stream open; tests shorten it. */
  heartbeatMs?: number
  /** This instance's webhook worker, told of webhooks registered and deleted here (src/index.ts). */
  webhookUsers?: ChangeWebhookUsers
}

export interface AppDeps {
  database: DatabaseHandle
  /** Default: streams of this app only, told of its own writes (embedded mode, most tests). */
  live?: Live
  config: Config & { jwtSecret: string }
  logger: Logger
  /** Sign-up and sign-in rate limits; tests tighten or relax them. */
  authLimits?: AuthLimits
  /** The clock the due filters count days by (today, overdue) and reminders are scheduled by; tests pin it. */
  now?: () => Date
}

export async function createApp({
  database,
  config,
  logger,
  authLimits = DEFAULT_AUTH_LIMITS,
  live = localLive(),
  now = () => new Date(),
}: AppDeps) {
  const tokens = await createTokens({
    secret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    jwksUrl: config.jwksUrl,
    betterAuthUrl: config.betterAuthUrl,
  })
  const auth = authPlugin(tokens)
  const log = accessLog(logger)
  const cursors = cursorCodec(config.jwtSecret)
  const app = new Elysia({
    // Refuse unknown body fields (422) instead of silently dropping them.
    normalize: false,
    // Bun's own body limit stands guard under the JSON parser (see json-body.ts).
    serve: { maxRequestBodySize: SERVER_BODY_LIMIT },
  })
    .use(requestLog(logger, log))
    .use(errorHandler(logger, log, (path) => allowedMethods(path), resourceChallenge(config.publicUrl)))
    .use(corsPolicy(config.corsOrigins))
    .use(healthRoutes(database, packageJson.version))
    .use(docsRoutes(packageJson.version))
    // After every write of a user's data, their live streams (here and on other instances) read the feed.
    .use(changePublisher(live.notifier))
    .use(
      authRoutes({
        db: database.db,
        tokens,
        auth,
        limits: authLimits,
        logger,
        trustProxy: config.trustProxy,
        onAccountDeleted: (userId) => live.notifier.ended(userId),
      }),
    )
    .use(taskRoutes({ db: database.db, auth, logger, now }))
    .use(listRoutes({ db: database.db, auth, logger }))
    .use(recurrenceRoutes({ db: database.db, auth }))
    .use(settingsRoutes({ db: database.db, auth, logger, now }))
    .use(syncRoutes({ db: database.db, auth, cursors }))
    .use(
      webhookRoutes({
        db: database.db,
        auth,
        logger,
        now,
        policy: destinationPolicy(config),
        users: live.webhookUsers,
      }),
    )
    .use(eventRoutes({ db: database.db, auth, tokens, hub: live.hub, cursors, logger, heartbeatMs: live.heartbeatMs }))
    .use(
      mcpRoutes({
        db: database.db,
        now,
        auth,
        logger,
        notifier: live.notifier,
        publicUrl: config.publicUrl,
        authorizationServer: config.betterAuthUrl,
        corsOrigins: config.corsOrigins,
        version: packageJson.version,
      }),
    )

  // Which methods a path answers to, for 405 versus 404 on an unmatched request.
  let routeTable: { pattern: RegExp; method: string }[] | undefined
  function allowedMethods(path: string): string[] {
    routeTable ??= app.routes
      .filter((route) => route.method !== 'OPTIONS' && !route.path.includes('*'))
      .map((route) => ({
        method: route.method,
        pattern: new RegExp(`^${route.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}/?$`),
      }))
    return [...new Set(routeTable.filter((route) => route.pattern.test(path)).map((route) => route.method))]
  }
  return app
}

export type App = Awaited<ReturnType<typeof createApp>>

/** Streams of one process, told of its own writes only. */
export function localLive(): Live {
  const hub = createHub()
  return { hub, notifier: localNotifier(hub) }
}
