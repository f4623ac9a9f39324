-- name: worker_heartbeat
INSERT INTO workers (id) VALUES ($1)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now();

-- name: worker_remove
DELETE FROM workers WHERE id = $1;

-- name: worker_prune
DELETE FROM workers WHERE heartbeat_at < now() - make_interval(secs => $1);
