INSERT INTO {table} ({columns}) SELECT {values} FROM {template}, generate_series($1::int, $2::int) AS k
