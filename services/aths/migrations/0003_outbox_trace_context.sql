ALTER TABLE "customer_outbox" ADD COLUMN "traceparent" text;--> statement-breakpoint
ALTER TABLE "customer_outbox" ADD COLUMN "tracestate" text;