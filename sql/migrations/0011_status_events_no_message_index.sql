-- 0011: drop status_events' index on message_id. No query reads status_events by message id (reconcile
-- finds events through status_event_queue, which keeps its own index, and joins status_events by id),
-- and the index cost a quarter of each webhook's insert: 100,000 statuses took 1.29 s with it and 0.87 s
-- without (psql, the same INSERT … SELECT; a second run 1.59 s vs 1.31 s). B5 stores every status before
-- its 200, so this is on the webhook's critical path.
DROP INDEX IF EXISTS status_events_message;
