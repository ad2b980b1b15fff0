// Model-based property: three users run random sequences of list and task
// operations (lists made, renamed, moved and deleted; tasks made in a list or
// under another task, changed, completed, moved and deleted with their
// subtasks; recurring tasks completed and rolled forward; time zones set;
// webhooks registered and deleted), and after every step each user's lists,
// tasks, settings and webhooks equal a model kept in the test
// (test/isolation/). A step runs the webhook worker: every delivery verifies
// with its own webhook's secret and carries only that user's data. As the
// attacker, a user also aims at other users' ids: in a path they are 403, in
// a body or query 422 naming the field, and nothing changes; through the MCP
// tools, the same refusals as tool errors. fast-check prints the seed and
// path of a failure; replay one with FC_SEED=<seed> FC_PATH=<path> (and
// FC_REPLAY_PATH=<replayPath> from the counterexample); FC_RUNS=<n> runs more
// than the default 15.
import { afterAll, test } from 'bun:test'
import fc from 'fast-check'
import { AgentAttack, agentAimArb } from './isolation/agent-commands'
import {
  Attack,
  CollectionAttack,
  type CollectionRequest,
  OnDeleted,
  ReferenceAttack,
  referenceArb,
  targetArb,
} from './isolation/attack-commands'
import {
  actorArb,
  createBodyArb,
  createListBodyArb,
  ifMatchArb,
  listPickArb,
  moveSpecArb,
  pickArb,
  placementArb,
  querySpecArb,
  taskPickArb,
  updateListBodyArb,
  viaArb,
  zoneArb,
} from './isolation/generators'
import { CreateList, DeleteList, MoveList, ReadLists, UpdateList } from './isolation/list-commands'
import { emptyModel, type Model, USERS } from './isolation/model'
import { Move } from './isolation/move-command'
import { ReadSeries } from './isolation/recurrence'
import { SetTimeZone } from './isolation/settings-commands'
import { label, type Real } from './isolation/steps'
import { Create, OwnDelete, OwnGet, OwnWrite, Query, type Write, writeArb } from './isolation/task-commands'
import {
  DeleteWebhook,
  DeliverWebhooks,
  eventsArb,
  finishWebhooks,
  newWebhookRun,
  OwnDeliveries,
  RegisterWebhook,
  webhookAttackArb,
} from './isolation/webhook-commands'
import { signedInUser } from './support'

type Command = fc.Arbitrary<fc.AsyncCommand<Model, Real>>

// fc.commands picks uniformly among these: listing one n times multiplies its weight by n.
const weighted = (weight: number, arbitrary: Command): Command[] => Array(weight).fill(arbitrary)

const victimOffsetArb = fc.integer({ min: 0, max: USERS - 2 })
const sideArb = fc.constantFrom('after_id' as const, 'before_id' as const)

const commandArbs: Command[] = [
  // Tasks
  ...weighted(
    5,
    fc
      .tuple(actorArb, fc.array(fc.record({ fields: createBodyArb, placement: placementArb }), { minLength: 1, maxLength: 5 }), viaArb)
      .map(([a, bodies, via]) => new Create(a, bodies, via)),
  ),
  ...weighted(
    3,
    fc.tuple(actorArb, taskPickArb, writeArb, viaArb, ifMatchArb).map(([a, p, w, via, m]) => new OwnWrite(a, p, w, via, m)),
  ),
  // Completing a recurring task: it rolls forward, or its series ends.
  ...weighted(
    2,
    fc
      .tuple(actorArb, fc.constantFrom<Write>({ kind: 'toggle' }, { kind: 'set', completed: true }), viaArb, ifMatchArb)
      .map(([a, w, via, m]) => new OwnWrite(a, 'recurring', w, via, m)),
  ),
  fc.tuple(actorArb, taskPickArb, viaArb, ifMatchArb).map(([a, p, via, m]) => new OwnDelete(a, p, via, m)),
  fc
    .tuple(actorArb, fc.constantFrom('tasks' as const, 'lists' as const), pickArb, viaArb)
    .map(([a, kind, p, via]) => new OwnGet(a, kind, p, via)),
  ...weighted(
    2,
    fc.tuple(actorArb, querySpecArb, viaArb).map(([a, spec, via]) => new Query(a, spec, via)),
  ),
  fc
    .tuple(actorArb, fc.oneof(taskPickArb, fc.constant('recurring' as const)), fc.integer({ min: 1, max: 5 }), viaArb)
    .map(([a, p, limit, via]) => new ReadSeries(a, p, limit, via)),
  ...weighted(
    3,
    fc.tuple(actorArb, taskPickArb, moveSpecArb, viaArb, ifMatchArb).map(([a, p, spec, via, m]) => new Move(a, p, spec, via, m)),
  ),
  // Lists
  fc.tuple(actorArb, viaArb).map(([a, via]) => new ReadLists(a, via)),
  ...weighted(
    2,
    fc.tuple(actorArb, createListBodyArb, viaArb).map(([a, body, via]) => new CreateList(a, body, via)),
  ),
  fc
    .tuple(actorArb, pickArb, fc.constantFrom('PATCH' as const, 'PUT' as const), updateListBodyArb, viaArb, ifMatchArb)
    .map(([a, p, method, body, via, m]) => new UpdateList(a, p, method, body, via, m)),
  fc
    .tuple(actorArb, listPickArb, sideArb, fc.oneof({ weight: 6, arbitrary: pickArb }, fc.constant('self' as const)), viaArb, ifMatchArb)
    .map(([a, p, side, anchor, via, m]) => new MoveList(a, p, side, anchor, via, m)),
  fc.tuple(actorArb, listPickArb, viaArb, ifMatchArb).map(([a, p, via, m]) => new DeleteList(a, p, via, m)),
  // Settings
  fc
    .tuple(actorArb, zoneArb, fc.constantFrom('none' as const, 'none' as const, 'current' as const, 'stale' as const))
    .map(([a, zone, m]) => new SetTimeZone(a, zone, m)),
  // Webhooks
  ...weighted(
    3,
    fc.tuple(actorArb, eventsArb, viaArb).map(([a, events, via]) => new RegisterWebhook(a, events, via)),
  ),
  fc.tuple(actorArb, pickArb, viaArb).map(([a, p, via]) => new DeleteWebhook(a, p, via)),
  ...weighted(3, fc.constant(new DeliverWebhooks())),
  fc.tuple(actorArb, pickArb, viaArb).map(([a, p, via]) => new OwnDeliveries(a, p, via)),
  ...weighted(2, webhookAttackArb(actorArb, victimOffsetArb, pickArb)),
  // Attacks
  ...weighted(
    2,
    fc
      .tuple(
        actorArb,
        victimOffsetArb,
        pickArb,
        targetArb,
        fc.constantFrom('plain' as const, 'plain' as const, 'alias-own' as const, 'alias-victim' as const),
        fc.constantFrom('none' as const, 'victim-etag' as const, '*' as const),
      )
      .map(([a, v, p, target, route, m]) => new Attack(a, v, p, target, route, m)),
  ),
  fc
    .tuple(
      actorArb,
      victimOffsetArb,
      fc.constantFrom<CollectionRequest>('GET tasks', 'POST tasks', 'GET lists', 'POST lists', 'GET webhooks', 'POST webhooks'),
    )
    .map(([a, v, request]) => new CollectionAttack(a, v, request)),
  ...weighted(
    2,
    fc
      .tuple(
        actorArb,
        victimOffsetArb,
        pickArb,
        referenceArb,
        fc.constantFrom('victim' as const, 'victim' as const, 'deleted' as const),
        viaArb,
      )
      .map(([a, v, p, reference, source, via]) => new ReferenceAttack(a, v, p, reference, source, via)),
  ),
  fc.tuple(actorArb, pickArb, targetArb, viaArb).map(([a, p, target, via]) => new OnDeleted(a, p, target, via)),
  // Attacks through the MCP tools
  ...weighted(
    2,
    fc.tuple(actorArb, victimOffsetArb, pickArb, agentAimArb).map(([a, v, p, aim]) => new AgentAttack(a, v, p, aim)),
  ),
]

afterAll(finishWebhooks)

const numRuns = Number(process.env.FC_RUNS ?? 15)
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
// Shrinking a long failing run can take minutes on a busy machine. Past this
// budget fast-check stops and reports the smallest failure found so far, well
// before the test's timeout; runs that are merely that slow fail too.
const budget = 60_000 + numRuns * 8_000

test(
  'three users, random list and task operations and cross-user attacks: every view always equals the model',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commandArbs, { maxCommands: 60, size: 'max', replayPath: process.env.FC_REPLAY_PATH }),
        async (commands) => {
          const setup = async () => ({
            model: emptyModel(),
            real: {
              users: await Promise.all(Array.from({ length: USERS }, (_, i) => signedInUser(label(i)))),
              trace: [],
              webhooks: newWebhookRun(),
            } satisfies Real,
          })
          await fc.asyncModelRun(setup, commands)
        },
      ),
      { numRuns, seed, path: process.env.FC_PATH, interruptAfterTimeLimit: budget, markInterruptAsFailure: true },
    )
  },
  budget + 30_000,
)
