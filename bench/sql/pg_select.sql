SELECT * FROM {table} WHERE {where}
