CREATE TEMP TABLE {template} AS SELECT * FROM {table} WHERE {where}
