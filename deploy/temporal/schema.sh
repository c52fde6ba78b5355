#!/bin/sh
# One-shot (temporalio/admin-tools, before the server starts): create Temporal's two
# databases in PostgreSQL and bring their schemas to this image's version with
# temporal-sql-tool, as Temporal's own compose examples do. Safe on every start and on
# an upgrade: `create` accepts an existing database, `setup-schema -v 0.0` leaves a
# newer schema alone, `update-schema` applies only the versions not applied yet.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"  # SQL_PASSWORD: the tool reads it
PORT="${DB_PORT:-5432}"
DB="${DBNAME:-temporal}"
VIS="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA=/etc/temporal/schema/postgresql/v12

tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"; }

# persistence
tool --db "$DB" create
tool --db "$DB" setup-schema -v 0.0
tool --db "$DB" update-schema -d "$SCHEMA/temporal/versioned"
# visibility
tool --db "$VIS" create
tool --db "$VIS" setup-schema -v 0.0
tool --db "$VIS" update-schema -d "$SCHEMA/visibility/versioned"
echo "Temporal schemas ready in $DB and $VIS"
