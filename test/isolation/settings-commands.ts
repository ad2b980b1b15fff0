// The isolation property's settings command: a user sets their time zone
// (any spelling the service accepts), with If-Match current or stale. The
// check after every step reads every user's settings: one user's change
// never shows in another's, and the due_date sort follows the new zone.
import { expect } from 'bun:test'
import { errorBody } from '../support'
import { canonicalZone, type Model } from './model'
import { label, type Real, Step } from './steps'

export type SettingsIfMatch = 'none' | 'current' | 'stale'

export class SetTimeZone extends Step {
  constructor(
    readonly actor: number,
    readonly zone: string,
    readonly ifMatch: SettingsIfMatch,
  ) {
    super()
  }
  check = () => true
  toString = () =>
    `${label(this.actor)} PATCH settings {time_zone: ${this.zone}}${this.ifMatch === 'none' ? '' : `, If-Match ${this.ifMatch}`}`
  async step(model: Model, real: Real) {
    const mine = model.users[this.actor]!
    const named = this.ifMatch === 'current' ? mine.settingsVersion : mine.settingsVersion + 1
    const headers: Record<string, string> = this.ifMatch === 'none' ? {} : { 'if-match': `"settings.${named}"` }
    const reply = await real.users[this.actor]!.call('PATCH', '/api/settings', { body: { time_zone: this.zone }, headers })
    if (this.ifMatch === 'stale') {
      expect([reply.status, reply.body]).toEqual([412, errorBody('precondition_failed')])
      return `${this} → 412`
    }
    const kept = canonicalZone(this.zone)
    if (kept !== mine.timeZone) {
      mine.timeZone = kept
      mine.settingsVersion++
    }
    expect([reply.status, reply.body, reply.headers.get('etag')]).toEqual([200, { time_zone: kept }, `"settings.${mine.settingsVersion}"`])
    return `${this} → ${kept}`
  }
}
