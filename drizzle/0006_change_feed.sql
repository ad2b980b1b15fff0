-- The change feed: each user's row in task_quotas carries the position of
-- their last change; every list and task the position of its own last change,
-- and deletions a tombstone. Rows made before stay at position 0: a sync
-- without a cursor (a full snapshot) includes them; no data moves.
CREATE TABLE "deletions" (
	"user_id" text NOT NULL,
	"kind" text NOT NULL,
	"id" bigint NOT NULL,
	"change_position" bigint NOT NULL,
	"deleted_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deletions_user_id_kind_id_pk" PRIMARY KEY("user_id","kind","id")
);
--> statement-breakpoint
ALTER TABLE "lists" ADD COLUMN "change_position" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_quotas" ADD COLUMN "change_position" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_quotas" ADD COLUMN "forgotten_through" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "change_position" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "deletions_user_change_idx" ON "deletions" USING btree ("user_id","change_position");--> statement-breakpoint
CREATE INDEX "deletions_deleted_at_idx" ON "deletions" USING btree ("deleted_at");--> statement-breakpoint
CREATE INDEX "lists_user_change_idx" ON "lists" USING btree ("user_id","change_position","id");--> statement-breakpoint
CREATE INDEX "tasks_user_change_idx" ON "tasks" USING btree ("user_id","change_position","id");