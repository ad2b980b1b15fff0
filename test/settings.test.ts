// GET and PATCH /api/settings: every user has settings (a token's sub with no
// local account included), the defaults until changed; time_zone is an IANA
// name, checked by the runtime's time zone database and kept canonically.
import { describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { userSettings } from '../src/db/schema'
import { TIME_ZONE_ERROR } from '../src/settings/model'
import { canonicalTimeZone, learnDatabaseZones, limitZonesTo } from '../src/settings/time-zones'
import { call, database, errorBody, signedInUser, signedUpUser, validationError } from './support'

const settingsRows = (userId: string) => database.db.select().from(userSettings).where(eq(userSettings.userId, userId))

describe('GET /api/settings', () => {
  test('the defaults for a user who never changed them, a token with no local account included, with an ETag', async () => {
    for (const user of [await signedInUser('better-auth'), await signedUpUser()]) {
      const reply = await user.call('GET', '/api/settings')
      expect([reply.status, reply.body, reply.headers.get('etag')]).toEqual([200, { time_zone: 'UTC' }, '"settings.0"'])
      // Every user's settings share a URL and tags of one shape: a shared browser cache must not mix them up.
      expect([reply.headers.get('vary'), reply.headers.get('cache-control')]).toEqual(['Authorization', 'private, no-cache'])
      // Reading makes no row.
      expect(await settingsRows(user.id)).toEqual([])
      const again = await user.call('GET', '/api/settings', { headers: { 'if-none-match': '"settings.0"' } })
      expect([again.status, again.text]).toEqual([304, ''])
    }
  })

  test('401 without a token', async () => {
    const reply = await call('GET', '/api/settings')
    expect([reply.status, reply.body]).toEqual([401, errorBody('token_missing')])
  })
})

describe('PATCH /api/settings', () => {
  test('sets the time zone; GET shows it; each user has their own', async () => {
    const user = await signedInUser()
    const other = await signedInUser()
    const patched = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Berlin' } })
    expect([patched.status, patched.body, patched.headers.get('etag')]).toEqual([200, { time_zone: 'Europe/Berlin' }, '"settings.1"'])
    const read = await user.call('GET', '/api/settings')
    expect([read.body, read.headers.get('etag')]).toEqual([{ time_zone: 'Europe/Berlin' }, '"settings.1"'])
    expect((await other.call('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
    const back = await user.call('PATCH', '/api/settings', { body: { time_zone: 'UTC' } })
    expect([back.body, back.headers.get('etag')]).toEqual([{ time_zone: 'UTC' }, '"settings.2"'])
  })

  test('any case and the aliases the runtime knows are accepted, and kept in their canonical spelling', async () => {
    const user = await signedInUser()
    for (const [sent, kept] of [
      ['europe/berlin', 'Europe/Berlin'],
      ['AMERICA/NEW_YORK', 'America/New_York'],
      ['US/Eastern', 'America/New_York'],
      ['Asia/Calcutta', 'Asia/Kolkata'],
      ['Europe/Kiev', 'Europe/Kyiv'],
      ['Etc/UTC', 'UTC'],
      ['utc', 'UTC'],
      ['Etc/GMT+5', 'Etc/GMT+5'],
      ['CET', 'Europe/Brussels'],
    ]) {
      const reply = await user.call('PATCH', '/api/settings', { body: { time_zone: sent } })
      expect([sent, reply.status, reply.body]).toEqual([sent, 200, { time_zone: kept }])
    }
  })

  test('the same value again changes nothing: same ETag', async () => {
    const user = await signedInUser()
    const first = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' } })
    const again = await user.call('PATCH', '/api/settings', { body: { time_zone: 'asia/tokyo' } })
    expect([again.status, again.headers.get('etag')]).toEqual([200, first.headers.get('etag')])
    // The defaults set explicitly are still the defaults' state.
    const fresh = await signedInUser()
    const utc = await fresh.call('PATCH', '/api/settings', { body: { time_zone: 'UTC' } })
    expect([utc.status, utc.headers.get('etag')]).toEqual([200, '"settings.0"'])
  })

  test('bad values: 422 naming time_zone, nothing stored', async () => {
    const user = await signedInUser()
    for (const time_zone of [
      'Mars/Olympus',
      '+02:00',
      '2020-01-01T00:00Z',
      '2021-03-04T05:06+02:00[Europe/Berlin]',
      'UTC+2',
      'Z',
      '',
      'Europe/Berlin ',
      'x'.repeat(300),
      42,
      null,
      ['UTC'],
    ]) {
      const reply = await user.call('PATCH', '/api/settings', { body: { time_zone } })
      expect([JSON.stringify(time_zone).slice(0, 20), reply.status, reply.body]).toEqual([
        JSON.stringify(time_zone).slice(0, 20),
        422,
        validationError('time_zone'),
      ])
    }
    for (const body of [{}, { time_zone: 'UTC', locale: 'de' }]) {
      const reply = await user.call('PATCH', '/api/settings', { body })
      expect([reply.status, reply.body.code]).toEqual([422, 'validation_error'])
    }
    const wrong = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Mars/Olympus' } })
    expect(wrong.body.errors).toEqual([
      { field: 'time_zone', message: 'must be an IANA time zone name, such as Europe/Berlin or America/New_York' },
    ])
    expect(await settingsRows(user.id)).toEqual([])
    expect((await user.call('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
  })

  test('a zone the database does not know is refused like an unknown one (older time zone data than the runtime)', async () => {
    await learnDatabaseZones(database.db)
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin')
    const user = await signedInUser()
    // As if the database's time zone data lacked Berlin: the runtime knows it, the database would fail on it.
    limitZonesTo(Intl.supportedValuesOf('timeZone').filter((zone) => zone !== 'Europe/Berlin'))
    try {
      const reply = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Berlin' } })
      expect([reply.status, reply.body.errors]).toEqual([422, [{ field: 'time_zone', message: TIME_ZONE_ERROR }]])
      const list = await user.call('GET', '/api/tasks?due=today&tz=Europe/Berlin')
      expect([list.status, list.body.errors?.[0]?.field]).toEqual([422, 'tz'])
      expect((await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Paris' } })).status).toBe(200)
    } finally {
      const names = await database.db.select({ name: sql<string>`name` }).from(sql`pg_timezone_names`)
      limitZonesTo(names.map((row) => row.name))
    }
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin')
  })

  test('If-Match: the current tag proceeds, a stale one is 412 and writes nothing; "settings.0" means never changed', async () => {
    const user = await signedInUser()
    const stale = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' }, headers: { 'if-match': '"settings.1"' } })
    expect([stale.status, stale.body]).toEqual([412, errorBody('precondition_failed')])
    const first = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' }, headers: { 'if-match': '"settings.0"' } })
    expect([first.status, first.headers.get('etag')]).toEqual([200, '"settings.1"'])
    const lost = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Paris' }, headers: { 'if-match': '"settings.0"' } })
    expect(lost.status).toBe(412)
    for (const ifMatch of ['W/"settings.1"', '"1"', '"settings.01"', '"tasks.1"'])
      expect(
        (await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Paris' }, headers: { 'if-match': ifMatch } })).status,
      ).toBe(412)
    expect((await user.call('GET', '/api/settings')).body).toEqual({ time_zone: 'Asia/Tokyo' })
    const any = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Paris' }, headers: { 'if-match': '*' } })
    expect([any.status, any.body]).toEqual([200, { time_zone: 'Europe/Paris' }])
  })

  test('Idempotency-Key: a repeat is replayed and changes nothing; the key with another body is 422', async () => {
    const user = await signedInUser()
    const headers = { 'idempotency-key': 'settings-1' }
    const first = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' }, headers })
    expect(first.status).toBe(200)
    expect((await user.call('PATCH', '/api/settings', { body: { time_zone: 'UTC' } })).status).toBe(200)
    const replayed = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Asia/Tokyo' }, headers })
    expect([replayed.status, replayed.body, replayed.headers.get('idempotent-replayed')]).toEqual([
      200,
      { time_zone: 'Asia/Tokyo' },
      'true',
    ])
    expect(replayed.headers.get('etag')).toBe(first.headers.get('etag'))
    expect((await user.call('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
    const reused = await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Paris' }, headers })
    expect([reused.status, reused.body]).toEqual([422, errorBody('idempotency_key_reused')])
  })

  test('other methods are 405; a body that is not JSON is 415', async () => {
    const user = await signedInUser()
    for (const method of ['PUT', 'POST', 'DELETE'])
      expect((await user.call(method, '/api/settings', { body: { time_zone: 'UTC' } })).status).toBe(405)
    const text = await user.call('PATCH', '/api/settings', { raw: 'time_zone=UTC', headers: { 'content-type': 'text/plain' } })
    expect([text.status, text.body]).toEqual([415, errorBody('unsupported_media_type')])
  })
})

test('deleting the account deletes the settings', async () => {
  const user = await signedUpUser()
  expect((await user.call('PATCH', '/api/settings', { body: { time_zone: 'Europe/Berlin' } })).status).toBe(200)
  expect(await settingsRows(user.id)).toHaveLength(1)
  expect((await user.call('DELETE', '/api/auth/me')).status).toBe(204)
  expect(await settingsRows(user.id)).toEqual([])
  expect((await user.call('GET', '/api/settings')).body).toEqual({ time_zone: 'UTC' })
})
