EXPLAIN (ANALYZE, BUFFERS) SELECT status, SUM(n)::BIGINT AS n FROM request_counts GROUP BY status
