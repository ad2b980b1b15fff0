// The SQL of the reference server (bench/reference.ts): the statements the
// service sends for the requests the benchmark makes, spelt by hand, each
// built once.

// REFERENCE_TIMESTAMPS=js: timestamptz parsed to Date by postgres.js and
// written with toISOString, instead of to_char in the query as the service does.
const TIMESTAMPS = process.env.REFERENCE_TIMESTAMPS === 'js' ? 'js' : 'sql'
export const MAX_TASKS_PER_USER = 10_000
// A top-level task and three levels below it, as in the service.
const MAX_ANCESTORS = 3

const isoOf = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const iso = (column: string) => (TIMESTAMPS === 'sql' ? `${isoOf(column)} as ${column}` : column)
// A due date is a moment (due_date) or a whole day (due_day), answered as it was given.
const DAY = `to_char(due_day::timestamp, 'YYYY-MM-DD')`
const DUE_DATE = TIMESTAMPS === 'sql' ? `coalesce(${isoOf('due_date')}, ${DAY}) as due_date` : `due_date, ${DAY} as due_day`
// A recurrence is kept as its rule and what it counts from; reminders as given.
const RECURRENCE = `case when recurrence_rule is null then null else json_build_object('rule', recurrence_rule, 'from', recurrence_from) end as recurrence`
export const COLUMNS = `id, list_id, parent_id, position, title, description, completed, priority, ${DUE_DATE}, tags, ${RECURRENCE}, reminders, ${iso('created_at')}, ${iso('updated_at')}`

// Qualified: a bare created_at in ORDER BY would name the to_char output column,
// and PostgreSQL would sort strings instead of walking tasks_user_created_idx.
// The total as the service computes it: null when the first page holds every
// task (the first subquery stops at limit + 1 rows), else a separate count.
// $1 user, $2 limit, $3 offset, $4 list (list_id=).
// The user's feed position, read in the same statement as the rows, for the collection's ETag.
const FEED_POSITION = '(select feed.change_position from task_quotas as feed where feed.user_id = $1)'
export const FEED_POSITION_SQL = 'select change_position from task_quotas where user_id = $1'
const listSql = (filter: string, order: string) => `select ${COLUMNS}, ${FEED_POSITION} as feed_position,
  case when $3 = 0 and (select count(*) from (select 1 from tasks where ${filter} limit $2 + 1) as first_page) <= $2 then null
  else (select count(*) from tasks where ${filter})::int end as total
  from tasks where ${filter} order by ${order} limit $2 offset $3`
const MINE = 'user_id = $1'
const IN_LIST = 'user_id = $1 and list_id = $4'
const ORDER = { created_at: 'tasks.created_at desc, tasks.id desc', position: 'tasks.position asc, tasks.id asc' }
export const LIST_SQL = {
  created_at: { all: listSql(MINE, ORDER.created_at), list: listSql(IN_LIST, ORDER.created_at) },
  position: { all: listSql(MINE, ORDER.position), list: listSql(IN_LIST, ORDER.position) },
}
export const COUNT_SQL = {
  all: 'select count(*)::int as total from tasks where user_id = $1',
  list: 'select count(*)::int as total from tasks where user_id = $1 and list_id = $2',
}
export const LIST_IS_MINE_SQL = 'select id from lists where user_id = $1 and id = $2'
// The lists in the user's order, each with its open tasks counted, as the service does.
export const LISTS_SQL = `select id, name, color, is_default, position, (select count(*)::int from tasks as counted
  where counted.user_id = lists.user_id and counted.list_id = lists.id and not counted.completed) as open_count,
  ${iso('created_at')}, ${iso('updated_at')}, ${FEED_POSITION} as feed_position
  from lists where user_id = $1 order by lists.position asc, lists.id asc`
export const GET_SQL = `select ${COLUMNS}, version from tasks where user_id = $1 and id = $2`
// Where a new task goes, as the service finds it: the default list (made on
// first need) and the position of its last top-level task.
export const PLACEMENT_SQL = `select l.id as list_id, (select t.position from tasks t
  where t.user_id = $1 and t.list_id = l.id and coalesce(t.parent_id, 0) = 0 order by t.position desc limit 1) as last
  from lists l where l.user_id = $1 and l.is_default`
export const ENSURE_DEFAULT_SQL = `with made as (
  insert into lists (user_id, name, is_default, position) values ($1, 'Inbox', true, 'a0')
  on conflict (user_id) where is_default do nothing returning user_id
) insert into task_quotas (user_id, task_count, list_count) select user_id, 0, 1 from made
  on conflict (user_id) do update set list_count = task_quotas.list_count + 1`
// A create, as the service runs it: the default list's last top-level position
// read, then one statement that takes a slot in the user's quota row and
// inserts the task after it; no slot left: version is NULL and 23502 means
// 409; a lost race for the place (23505) looks again with a random fraction.
// The change feed as the service keeps it: the slot advances the user's
// position, the task and its list (whose open_count moves) are stamped with it.
export const CREATE_SQL = `with slot as (
  insert into task_quotas (user_id, task_count, change_position) values ($1, 1, 1)
  on conflict (user_id) do update set task_count = task_quotas.task_count + 1, change_position = task_quotas.change_position + 1
  where task_quotas.task_count < ${MAX_TASKS_PER_USER}
  returning change_position
), list_stamped as (
  update lists set change_position = (select change_position from slot)
  where (select change_position from slot) is not null and user_id = $1 and id = $3 returning id
) insert into tasks (user_id, version, change_position, title, list_id, position)
  values ($1, (select 1 from slot), (select change_position from slot), $2, $3, $4) returning ${COLUMNS}, version`
// version and updated_at move only when the value really changes, as in the service.
// The feed advanced in the same statement, the user's row locked first.
const ADVANCED = `with advanced as (
  insert into task_quotas (user_id, change_position) values ($1, 1)
  on conflict (user_id) do update set change_position = task_quotas.change_position + 1 returning change_position)`
export const UPDATE_TITLE_SQL = `${ADVANCED} update tasks set title = $3,
  version = case when title is distinct from $3 then version + 1 else version end,
  updated_at = case when title is distinct from $3 then now() else updated_at end,
  change_position = case when title is distinct from $3 then (select change_position from advanced) else change_position end
  where (select change_position from advanced) is not null and user_id = $1 and id = $2 returning ${COLUMNS}, version`
export const SET_COMPLETED_SQL = `update tasks set completed = $3,
  version = case when completed is distinct from $3 then version + 1 else version end,
  updated_at = case when completed is distinct from $3 then now() else updated_at end
  where user_id = $1 and id = $2 returning ${COLUMNS}, version`
export const OWNER_SQL = 'select user_id = $1 as mine from tasks where id = $2 limit 1'

// A toggle, as the service runs it: one transaction that advances the user's
// feed (locking their row), flips the task and stamps its list (open_count
// moved) in one statement, and completes its open subtasks when it became
// completed.
export const LOCK_USER_SQL =
  'insert into task_quotas (user_id, change_position) values ($1, 1) on conflict (user_id) do update set change_position = task_quotas.change_position + 1'
const STAMP = '(select feed.change_position from task_quotas as feed where feed.user_id = $1)'
function levelsBelow(alias: string, listId: string, top: string): string[] {
  const levels: string[] = []
  let level = `select ${top}`
  for (let depth = 1; depth <= MAX_ANCESTORS; depth++) {
    level = `select ${alias}${depth}.id from tasks as ${alias}${depth}
      where ${alias}${depth}.user_id = $1 and ${alias}${depth}.list_id = ${listId} and coalesce(${alias}${depth}.parent_id, 0) in (${level})`
    levels.push(level)
  }
  return levels
}
export const FLIP_SQL = `with stamped as (
    update lists set change_position = ${STAMP} where user_id = $1 and id = (select list_id from tasks where user_id = $1 and id = $2))
  update tasks set completed = not completed, version = version + 1, updated_at = now(), change_position = ${STAMP}
  where user_id = $1 and id = $2 returning ${COLUMNS}, version`
// The parents in the subtree of $3: itself and the two levels below it that can still have children.
const SUBTREE_PARENTS = ['select $3::bigint', ...levelsBelow('level', '$2', '$3::bigint').slice(0, MAX_ANCESTORS - 1)].join(' union all ')
export const COMPLETE_DESCENDANTS_SQL = `update tasks set completed = true, version = version + 1, updated_at = now(), change_position = ${STAMP}
  where user_id = $1 and list_id = $2 and coalesce(parent_id, 0) in (${SUBTREE_PARENTS}) and completed = false`
