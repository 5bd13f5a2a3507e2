ALTER TABLE "user_status_outbox" ADD COLUMN "traceparent" text;--> statement-breakpoint
ALTER TABLE "user_status_outbox" ADD COLUMN "tracestate" text;