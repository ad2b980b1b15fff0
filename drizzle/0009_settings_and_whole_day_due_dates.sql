CREATE TABLE "user_settings" (
	"user_id" text PRIMARY KEY NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"version" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "due_day" date;--> statement-breakpoint
CREATE INDEX "tasks_user_due_day_idx" ON "tasks" USING btree ("user_id","due_day","id") WHERE "tasks"."due_day" is not null;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_due_one_kind" CHECK ("tasks"."due_date" is null or "tasks"."due_day" is null);