CREATE TABLE "task_completions" (
	"user_id" text NOT NULL,
	"task_id" bigint NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "task_completions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1 CACHE 1),
	"completed_at" timestamp(3) with time zone NOT NULL,
	"due_date" timestamp(3) with time zone,
	"due_day" date,
	CONSTRAINT "task_completions_user_id_task_id_id_pk" PRIMARY KEY("user_id","task_id","id")
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "recurrence_rule" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "recurrence_from" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "recurrence_start" timestamp(3);--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "recurrence_done" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "task_completions" ADD CONSTRAINT "task_completions_user_id_task_id_tasks_user_id_id_fk" FOREIGN KEY ("user_id","task_id") REFERENCES "public"."tasks"("user_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_recurrence_from" CHECK ("tasks"."recurrence_from" in ('due', 'completion') and "tasks"."recurrence_rule" is not null or "tasks"."recurrence_from" is null and "tasks"."recurrence_rule" is null);--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_recurrence_needs_due" CHECK ("tasks"."recurrence_rule" is null or "tasks"."due_date" is not null or "tasks"."due_day" is not null);