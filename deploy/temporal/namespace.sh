#!/bin/sh
# One-shot (temporalio/admin-tools, once the server answers): the namespace with its
# retention, and the custom search attributes the workflow upserts (the list in
# domain/search_attributes.py; tests/test_deploy.py keeps the two equal). Idempotent:
# an existing namespace gets its retention updated, an existing attribute is left alone.
# The CLI reads TEMPORAL_ADDRESS and, where set, TEMPORAL_TLS_* / TEMPORAL_API_KEY.
set -eu
: "${TEMPORAL_ADDRESS:?}"
NS="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-90d}"  # the archive keeps closed histories (docs/production.md)

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 90 ] || { echo "Temporal at $TEMPORAL_ADDRESS not healthy after 3 minutes"; exit 1; }
    echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 2
done

if temporal operator namespace describe --namespace "$NS" >/dev/null 2>&1; then
    temporal operator namespace update --namespace "$NS" --retention "$RETENTION"
else
    temporal operator namespace create --namespace "$NS" --retention "$RETENTION"
fi
# A new namespace reaches every frontend's cache within seconds; until then the search
# attribute calls answer "namespace not found".
tries=0
until temporal operator search-attribute list --namespace "$NS" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ "$tries" -le 30 ] || { echo "namespace $NS not visible after a minute"; exit 1; }
    sleep 2
done

for sa in GfStage=Keyword GfBatch=Keyword GfPreset=Keyword GfCity=Keyword GfCounty=Keyword \
          GfTask=Keyword GfWaitingOn=KeywordList GfNextDeadline=Datetime; do
    # The server skips an attribute that exists already; any other error stops the setup.
    temporal operator search-attribute create --namespace "$NS" \
        --name "${sa%%=*}" --type "${sa#*=}"
done
echo "Temporal namespace $NS ready (retention $RETENTION)"
