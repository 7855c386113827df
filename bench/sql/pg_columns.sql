SELECT column_name, data_type,
       (coalesce(column_default, '') LIKE 'nextval(%' OR is_identity = 'YES') AS generated
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1
ORDER BY ordinal_position
