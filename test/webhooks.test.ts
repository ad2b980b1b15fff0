// The webhook routes: registration (with the address checks), listing,
// deletion, limits, validation and ownership. Deliveries: webhooks-delivery.test.ts.
import { describe, expect, test } from 'bun:test'
import { createApp } from '../src/app'
import { app, call, database, errorBody, logger, signedInUser, testConfig, type User, userId, validationError } from './support'

const strictApp = await createApp({ database, config: testConfig({ WEBHOOK_ALLOW_LOOPBACK: 'false' }), logger })
const productionApp = await createApp({ database, config: testConfig({ NODE_ENV: 'production' }), logger })

const hook = (user: User, body: Record<string, unknown>, on = app) => user.call('POST', '/api/webhooks', { body, on })

describe('POST /api/webhooks', () => {
  test('201 with the secret (whsec_ and 32 random bytes), shown only then; Location names it', async () => {
    const user = await signedInUser()
    const reply = await hook(user, { url: 'http://127.0.0.1:9/hook', events: ['change', 'reminder'] })
    expect(reply.status).toBe(201)
    expect(reply.body).toEqual({
      id: expect.any(Number),
      url: 'http://127.0.0.1:9/hook',
      events: ['change', 'reminder'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      failing_since: null,
      disabled_at: null,
    })
    expect(Buffer.from(reply.body.secret.slice(6), 'base64')).toHaveLength(32)
    expect(reply.headers.get('location')).toBe(`/api/webhooks/${reply.body.id}`)
    const { secret: _, ...listed } = reply.body
    const list = await user.call('GET', '/api/webhooks')
    expect(list.status).toBe(200)
    expect(list.body).toEqual([listed])
    expect(list.text).not.toContain(reply.body.secret)
    const one = await user.call('GET', `/api/webhooks/${reply.body.id}`)
    expect(one.body).toEqual(listed)
    // Two webhooks never share a secret.
    const other = await hook(user, { url: 'http://127.0.0.1:9/other', events: ['reminder'] })
    expect(other.body.secret).not.toBe(reply.body.secret)
  })

  test('events: a non-empty list of distinct reminder / change; url required; unknown fields refused', async () => {
    const user = await signedInUser()
    const url = 'http://127.0.0.1:9/hook'
    for (const events of [[], ['change', 'change'], ['created'], 'change', [1], undefined]) {
      const reply = await hook(user, { url, events })
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('events', true))
    }
    for (const body of [{ events: ['change'] }, { url: 42, events: ['change'] }, { url: 'x'.repeat(2001), events: ['change'] }]) {
      const reply = await hook(user, body)
      expect(reply.status).toBe(422)
      expect(reply.body).toEqual(validationError('url'))
    }
    const extra = await hook(user, { url, events: ['change'], secret: 'whsec_mine' })
    expect(extra.status).toBe(422)
    expect((await user.call('GET', '/api/webhooks')).body).toEqual([])
  })

  test('a URL that is not http(s), carries credentials or names a metadata service: 422 naming url', async () => {
    const user = await signedInUser()
    for (const url of [
      'not a url',
      '/relative',
      'ftp://127.0.0.1/hook',
      'file:///etc/passwd',
      'http://user:password@127.0.0.1/hook',
      'http://token@127.0.0.1/hook',
      'http://metadata.google.internal/computeMetadata/v1/',
    ]) {
      const reply = await hook(user, { url, events: ['change'] })
      expect(reply.status, url).toBe(422)
      expect(reply.body).toEqual(validationError('url'))
    }
  })

  test('private, link-local, unspecified and metadata addresses are refused whatever the setting', async () => {
    const user = await signedInUser()
    for (const host of [
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.169.254',
      '169.254.10.10',
      '0.0.0.0',
      '[::]',
      '[fe80::1]',
      '[fc00::1]',
      '[fd12:3456::1]',
      '[fd00:ec2::254]',
      '[::ffff:10.0.0.1]',
      '[::ffff:169.254.169.254]',
      '[64:ff9b::a9fe:a9fe]',
      '0x0a000001',
      '012.0.0.1',
    ])
      for (const on of [app, strictApp]) {
        const reply = await hook(user, { url: `http://${host}/hook`, events: ['change'] }, on)
        expect(reply.status, host).toBe(422)
        expect(reply.body).toEqual(validationError('url'))
      }
    expect((await user.call('GET', '/api/webhooks')).body).toEqual([])
  })

  test('documentation, benchmarking, reserved, broadcast, discard and IPv4-translated addresses are refused too', async () => {
    const user = await signedInUser()
    for (const host of [
      '192.0.2.10',
      '198.51.100.7',
      '203.0.113.200',
      '198.18.0.1',
      '198.19.255.254',
      '240.0.0.1',
      '255.255.255.255',
      '[100::1]',
      '[2001:db8::1]',
      '[2001:db8:ffff::1]',
      '[::ffff:0:10.0.0.1]',
      '[::ffff:0:a9fe:a9fe]',
    ])
      for (const on of [app, strictApp]) {
        const reply = await hook(user, { url: `http://${host}/hook`, events: ['change'] }, on)
        expect(reply.status, host).toBe(422)
        expect(reply.body).toEqual(validationError('url'))
      }
    // IPv4-translated loopback is loopback: refused where loopback is.
    const translated = await hook(user, { url: 'http://[::ffff:0:127.0.0.1]:8080/hook', events: ['change'] }, strictApp)
    expect(translated.status).toBe(422)
    expect(translated.body.detail).toContain('loopback')
    expect((await user.call('GET', '/api/webhooks')).body).toEqual([])
  })

  test('loopback: allowed by WEBHOOK_ALLOW_LOOPBACK (the default outside production), else refused, a name resolving to it too', async () => {
    const user = await signedInUser()
    for (const host of ['127.0.0.1', '127.1.2.3', '[::1]', '[::ffff:127.0.0.1]', 'localhost', '2130706433']) {
      const refused = await hook(user, { url: `http://${host}:8080/hook`, events: ['change'] }, strictApp)
      expect(refused.status, host).toBe(422)
      expect(refused.body).toEqual(validationError('url'))
      expect(refused.body.detail).toContain('loopback')
      expect((await hook(user, { url: `http://${host}:8080/hook`, events: ['change'] })).status, host).toBe(201)
    }
  })

  test('a host name that does not resolve: 422 naming url', async () => {
    const user = await signedInUser()
    const reply = await hook(user, { url: 'https://hooks.invalid/x', events: ['change'] })
    expect(reply.status).toBe(422)
    expect(reply.body).toEqual(validationError('url'))
  })

  test('in production: https only, and loopback refused', async () => {
    const user = await signedInUser()
    const plain = await hook(user, { url: 'http://hooks.example.com/x', events: ['change'] }, productionApp)
    expect(plain.status).toBe(422)
    expect(plain.body.detail).toContain('https')
    const loopback = await hook(user, { url: 'https://127.0.0.1/x', events: ['change'] }, productionApp)
    expect(loopback.status).toBe(422)
    expect(loopback.body).toEqual(validationError('url'))
  })

  test('at most 10 per user: the 11th is 409 webhook_limit, also when they race', async () => {
    const user = await signedInUser()
    const replies = await Promise.all(
      Array.from({ length: 14 }, (_, i) => hook(user, { url: `http://127.0.0.1:9/${i}`, events: ['reminder'] })),
    )
    expect(replies.filter((reply) => reply.status === 201)).toHaveLength(10)
    for (const reply of replies.filter((reply) => reply.status !== 201)) {
      expect(reply.status).toBe(409)
      expect(reply.body).toEqual(errorBody('webhook_limit'))
    }
    expect((await user.call('GET', '/api/webhooks')).body).toHaveLength(10)
    // Another user's count is their own.
    expect((await hook(await signedInUser(), { url: 'http://127.0.0.1:9/x', events: ['change'] })).status).toBe(201)
  })

  test('Idempotency-Key: the same request again gets the first answer and makes nothing', async () => {
    const user = await signedInUser()
    const send = () =>
      user.call('POST', '/api/webhooks', {
        body: { url: 'http://127.0.0.1:9/hook', events: ['change'] },
        headers: { 'idempotency-key': 'register-once' },
      })
    const first = await send()
    const again = await send()
    expect(first.status).toBe(201)
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body).toEqual(first.body)
    expect((await user.call('GET', '/api/webhooks')).body).toHaveLength(1)
  })

  test('401 without a token, before the body is read', async () => {
    const reply = await call('POST', '/api/webhooks', { raw: '{not json' })
    expect(reply.status).toBe(401)
  })
})

describe('DELETE /api/webhooks/{id}', () => {
  test('204, then 404; the list no longer has it', async () => {
    const user = await signedInUser()
    const { body: made } = await hook(user, { url: 'http://127.0.0.1:9/hook', events: ['change'] })
    const gone = await user.call('DELETE', `/api/webhooks/${made.id}`)
    expect(gone.status).toBe(204)
    expect(gone.text).toBe('')
    expect((await user.call('DELETE', `/api/webhooks/${made.id}`)).body).toEqual(errorBody('webhook_not_found'))
    expect((await user.call('GET', `/api/webhooks/${made.id}`)).status).toBe(404)
    expect((await user.call('GET', `/api/webhooks/${made.id}/deliveries`)).status).toBe(404)
    expect((await user.call('GET', '/api/webhooks')).body).toEqual([])
  })
})

describe('ownership and ids', () => {
  test("another user's webhook: 403 on every route, never listed; unknown 404; malformed 422", async () => {
    const owner = await signedInUser('owner')
    const intruder = await signedInUser('intruder')
    const { body: made } = await hook(owner, { url: 'http://127.0.0.1:9/hook', events: ['change'] })
    for (const [method, path] of [
      ['GET', `/api/webhooks/${made.id}`],
      ['GET', `/api/webhooks/${made.id}/deliveries`],
      ['DELETE', `/api/webhooks/${made.id}`],
      ['GET', `/api/${intruder.id}/webhooks/${made.id}`],
      ['DELETE', `/api/${intruder.id}/webhooks/${made.id}`],
    ] as const) {
      const reply = await intruder.call(method, path)
      expect(reply.status, `${method} ${path}`).toBe(403)
      expect(reply.body).toEqual(errorBody('forbidden'))
      expect(reply.text).not.toContain(made.url)
    }
    expect((await intruder.call('GET', '/api/webhooks')).body).toEqual([])
    expect((await owner.call('GET', '/api/webhooks')).body).toHaveLength(1)
    const unknown = await owner.call('GET', `/api/webhooks/${Number.MAX_SAFE_INTEGER}`)
    expect(unknown.status).toBe(404)
    expect(unknown.body).toEqual(errorBody('webhook_not_found'))
    for (const id of ['abc', '0', '1.5', '9007199254740992']) {
      const reply = await owner.call('GET', `/api/webhooks/${id}`)
      expect(reply.status, id).toBe(422)
      expect(reply.body).toEqual(validationError('id'))
    }
    expect((await owner.call('GET', `/api/webhooks/${made.id}/deliveries?limit=0`)).body).toEqual(validationError('limit'))
  })

  test('/api/{user_id}/webhooks: the same routes for the caller, 403 for anyone else', async () => {
    const user = await signedInUser()
    const made = await user.call('POST', `/api/${user.id}/webhooks`, { body: { url: 'http://127.0.0.1:9/hook', events: ['reminder'] } })
    expect(made.status).toBe(201)
    expect(made.headers.get('location')).toBe(`/api/${user.id}/webhooks/${made.body.id}`)
    expect((await user.call('GET', `/api/${user.id}/webhooks`)).body).toHaveLength(1)
    expect((await user.call('GET', `/api/${user.id}/webhooks/${made.body.id}/deliveries`)).body).toEqual([])
    const other = userId('other')
    expect((await user.call('GET', `/api/${other}/webhooks`)).status).toBe(403)
    expect((await user.call('POST', `/api/${other}/webhooks`, { body: { url: 'http://127.0.0.1:9/x', events: ['change'] } })).status).toBe(
      403,
    )
    expect((await user.call('DELETE', `/api/${user.id}/webhooks/${made.body.id}`)).status).toBe(204)
  })
})
