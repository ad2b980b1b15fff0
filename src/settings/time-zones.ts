// Time zones are IANA names, checked and spelt as this runtime's time zone
// database (Temporal, Intl) knows them, in any case, and kept in their
// canonical spelling: "europe/berlin" is Europe/Berlin, the alias US/Eastern
// is America/New_York. PostgreSQL and PGlite know every canonical name, and
// read them as zones, whereas an alias such as CET would be read there as a
// fixed-offset abbreviation, without its daylight saving time.
import { sql } from 'drizzle-orm'
import type { Database } from '../db/client'
import { guarded } from '../db/guard'

const CANONICAL = new Map(Intl.supportedValuesOf('timeZone').map((name) => [name.toLowerCase(), name]))
// Aliases met so far (US/Eastern, Asia/Calcutta, Etc/UTC...): a few hundred at most, as the database names them.
const ALIASES = new Map<string, string>()
const EPOCH = Temporal.Instant.fromEpochMilliseconds(0)
// The shape of an IANA name (Area/Location, Etc/GMT+5): no offsets, dates or brackets reach Temporal.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]{0,29}(?:\/[A-Za-z0-9_+-]{1,30}){0,2}$/

/**
 * Before validation: `fields[key]`, when it is a zone the runtime knows, spelt
 * canonically, so that aliases and any case pass the check (anything else
 * is left for the check to refuse).
 */
export function spellZoneCanonically(fields: unknown, key: string): void {
  const input = fields as Record<string, unknown> | undefined
  const value = input?.[key]
  if (typeof value === 'string') input![key] = canonicalTimeZone(value) ?? value
}

// The database evaluates day views in the zone too (AT TIME ZONE): a zone this
// runtime knows but an older time zone database does not would fail there.
// Once the database has said which zones it knows, only those pass.
let databaseZones: ReadonlySet<string> | undefined
const asked = new WeakSet<Database>()

/** Asks the database once which zones it knows (a few hundred ms on PGlite: run it in the background). */
export async function learnDatabaseZones(db: Database): Promise<void> {
  if (asked.has(db)) return
  asked.add(db)
  try {
    // Within the guard: an operation outside it would hold a pooled connection the guard counts as free.
    const rows = await guarded(db, () => db.select({ name: sql<string>`name` }).from(sql`pg_timezone_names`))
    limitZonesTo(rows.map((row) => row.name))
  } catch (error) {
    // Asked again next time (until then, every zone the runtime knows passes).
    asked.delete(db)
    throw error
  }
}

/** Only these zones pass from now on (undefined: every zone the runtime knows). */
export function limitZonesTo(names: Iterable<string> | undefined): void {
  databaseZones = names && new Set(names)
}

/** The canonical IANA name of `name` (any case, or an alias), or undefined when it names no zone both the runtime and the database know (offsets such as +02:00 included). */
export function canonicalTimeZone(name: string): string | undefined {
  const zone = runtimeZone(name)
  return zone !== undefined && (databaseZones?.has(zone) ?? true) ? zone : undefined
}

function runtimeZone(name: string): string | undefined {
  const lower = name.toLowerCase()
  const known = CANONICAL.get(lower) ?? ALIASES.get(lower)
  if (known || !ZONE_NAME.test(name)) return known
  let zoned: Temporal.ZonedDateTime
  try {
    zoned = EPOCH.toZonedDateTimeISO(name)
  } catch {
    return undefined
  }
  // Temporal also reads a date-time naming a zone ("2020-01-01T00:00Z"): only a name that is the zone's own id is one.
  if (zoned.timeZoneId.toLowerCase() !== lower) return undefined
  // Temporal compares zones by their canonical name: the one equal to the alias is its name.
  for (const canonical of CANONICAL.values())
    if (zoned.equals(EPOCH.toZonedDateTimeISO(canonical))) {
      ALIASES.set(lower, canonical)
      return canonical
    }
  return undefined
}
