#!/bin/sh
# Runs once, on the first start of the operational PostgreSQL container (docker-entrypoint-initdb.d).
# The CRM database with its own role, and a role for Temporal, whose databases (temporal,
# temporal_visibility) the temporalio/auto-setup image creates and migrates itself.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE crm LOGIN PASSWORD '${CRM_DB_PASSWORD:-crm}';
CREATE DATABASE crm OWNER crm;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD:-temporal}';
SQL
