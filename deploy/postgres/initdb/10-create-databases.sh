#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
# One PostgreSQL server holds the asset database and Temporal's two databases, each owned by its own role,
# so the application cannot touch Temporal's tables and the other way round.
set -eu

# device_lifecycle owns the schema (the migrate job logs in as it); device_lifecycle_app is the role the API
# and the worker log in as: migration 0011 grants it what the service needs and no more (it may only
# INSERT and SELECT the audit table, and owns nothing, so it cannot alter or disable the audit triggers).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v app_password="$APP_DB_PASSWORD" -v app_runtime_password="$APP_RUNTIME_DB_PASSWORD" \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE device_lifecycle LOGIN PASSWORD :'app_password';
CREATE ROLE device_lifecycle_app LOGIN PASSWORD :'app_runtime_password';
CREATE DATABASE device_lifecycle OWNER device_lifecycle ENCODING 'UTF8' TEMPLATE template0;

CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE temporal_visibility OWNER temporal ENCODING 'UTF8' TEMPLATE template0;
SQL

# PostgreSQL 15+ no longer lets every role create objects in the public schema: give it to the owners.
for db in device_lifecycle:device_lifecycle temporal:temporal temporal_visibility:temporal; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${db%%:*}" \
    -c "ALTER SCHEMA public OWNER TO ${db##*:};"
done
