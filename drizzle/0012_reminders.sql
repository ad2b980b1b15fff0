CREATE TABLE "reminder_counters" (
	"user_id" text PRIMARY KEY NOT NULL,
	"last_notice" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reminder_firings" (
	"user_id" text NOT NULL,
	"task_id" bigint NOT NULL,
	"reminder" integer NOT NULL,
	"fire_at" timestamp(3) with time zone NOT NULL,
	CONSTRAINT "reminder_firings_user_id_task_id_reminder_fire_at_pk" PRIMARY KEY("user_id","task_id","reminder","fire_at")
);
--> statement-breakpoint
CREATE TABLE "reminder_notices" (
	"user_id" text NOT NULL,
	"number" bigint NOT NULL,
	"data" json NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "reminder_notices_user_id_number_pk" PRIMARY KEY("user_id","number")
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "reminders" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "reminder_firings" ADD CONSTRAINT "reminder_firings_user_id_task_id_tasks_user_id_id_fk" FOREIGN KEY ("user_id","task_id") REFERENCES "public"."tasks"("user_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reminder_firings_fire_at_idx" ON "reminder_firings" USING btree ("fire_at");--> statement-breakpoint
CREATE INDEX "reminder_notices_created_idx" ON "reminder_notices" USING btree ("created_at");