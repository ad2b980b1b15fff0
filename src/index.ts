import { createApp } from './app'
import { developmentSecret } from './auth/secret'
import { type Config, ConfigError, loadConfig } from './config'
import { openDatabase } from './db/client'
import { startCatchUp } from './events/catch-up'
import { createHub } from './events/hub'
import { localNotifier, postgresNotifier } from './events/notifier'
import { startHousekeeping } from './housekeeping'
import { createLogger } from './http/logger'
import { reminderScheduler, reminderWebhooks } from './reminders/scheduler'
import { learnDatabaseZones } from './settings/time-zones'
import { destinationPolicy } from './webhooks/destinations'
import { createWebhookWorker, wakingWebhooks } from './webhooks/worker'

const SHUTDOWN_GRACE_MS = 10_000

function fail(message: string): never {
  process.stderr.write(`todo-api: ${message}\n`)
  process.exit(1)
}

let config: Config
try {
  config = loadConfig(process.env)
} catch (error) {
  fail(error instanceof ConfigError ? `invalid configuration: ${error.message}` : String(error))
}
const logger = createLogger(config.logLevel)
const jwtSecret = config.jwtSecret ?? (await developmentSecret(config.dataDir, logger))
const database = await openDatabase(config).catch((error: unknown) =>
  fail(`cannot open the database: ${error instanceof Error ? error.message : String(error)}`),
)
logger.info(`database: ${database.description}`)
if (database.kind === 'postgres' && !database.serverTimeouts)
  logger.warn(
    'the database (a transaction pooler?) refuses statement_timeout as a startup parameter: set statement_timeout and idle_in_transaction_session_timeout on the database role',
  )

const hub = createHub()
// Several instances on one PostgreSQL: changes reach the others' streams through LISTEN/NOTIFY.
const notifier =
  database.kind === 'postgres' && config.databaseListenUrl
    ? await postgresNotifier(config.databaseListenUrl, hub, logger).catch((error: unknown) =>
        fail(`cannot LISTEN on the database: ${error instanceof Error ? error.message : String(error)}`),
      )
    : localNotifier(hub)
// Every instance delivers webhooks; this one's writes wake its worker at once (for users with change webhooks).
const webhooks = createWebhookWorker({
  db: database.db,
  logger,
  policy: destinationPolicy(config),
})
const live = { hub, notifier: wakingWebhooks(notifier, webhooks), webhookUsers: webhooks }
const app = (await createApp({ database, config: { ...config, jwtSecret }, logger, live })).listen({
  port: config.port,
  hostname: '0.0.0.0',
})
logger.info(`listening on http://localhost:${app.server?.port}`, { port: app.server?.port })
// Zones the database does not know are refused once it has said which it knows (in the background: a few hundred ms on PGlite).
const learnZones = () =>
  learnDatabaseZones(database.db).catch((error: unknown) => {
    logger.warn('could not read the database time zone names; asked again in a minute', { cause: String(error) })
    setTimeout(learnZones, 60_000).unref()
  })
learnZones()
const stopHousekeeping = startHousekeeping(database.db, logger)
const stopCatchUp = startCatchUp(database.db, hub, logger)
webhooks.start()
// Every instance runs the schedule; each reminder fires on one of them, its webhooks queued in the same transaction.
const stopReminders = reminderScheduler({ db: database.db, notifier: live.notifier, logger, onFired: [reminderWebhooks] }).start()

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  logger.info(`${signal}: draining in-flight requests`)
  // A request that outlives the grace period must not keep the process alive.
  const forced = setTimeout(() => {
    logger.error('shutdown grace period over; exiting')
    process.exit(1)
  }, SHUTDOWN_GRACE_MS)
  stopHousekeeping()
  stopCatchUp()
  // Attempts under way are abandoned: their leases lapse and another instance sends them.
  await webhooks.stop()
  // A claim under way commits or rolls back before the database closes; a later one is another instance's.
  await stopReminders()
  // Streams never finish by themselves: they end first, and clients reconnect elsewhere.
  hub.endAll()
  await app.stop(false)
  await notifier.close()
  await database.close()
  clearTimeout(forced)
  logger.info('stopped')
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
