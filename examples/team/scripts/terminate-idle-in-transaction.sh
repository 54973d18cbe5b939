#!/bin/sh
# The one remediation the postgres-analyst's allowlist permits: end the sessions of
# database `orders` idle in a transaction for more than 5 seconds (they hold connections and
# locks), and say how many. (@PORT@ is filled in when the lab installs it.)
exec psql -X -h 127.0.0.1 -p @PORT@ -U postgres -d orders -At -c "
  SELECT 'terminated ' || count(*) || ' sessions idle in transaction for more than 5 s'
  FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = 'orders' AND state = 'idle in transaction'
          AND state_change < now() - interval '5 seconds' AND pid <> pg_backend_pid()) AS t"
