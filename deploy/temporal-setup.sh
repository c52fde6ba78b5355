#!/bin/sh
# One-shot: wait for the Temporal cluster, set the namespace's retention, register the
# custom search attributes (the list in domain/search_attributes.py). Idempotent.
set -eu
ADDR="${TEMPORAL_ADDRESS:-temporal:7233}"
NS="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do
    echo "waiting for Temporal at $ADDR"; sleep 2
done
temporal operator namespace describe --address "$ADDR" --namespace "$NS" >/dev/null 2>&1 \
    || temporal operator namespace create --address "$ADDR" --namespace "$NS"
temporal operator namespace update --address "$ADDR" --namespace "$NS" \
    --retention "${TEMPORAL_RETENTION:-3650d}"
for sa in GfStage=Keyword GfBatch=Keyword GfPreset=Keyword GfCity=Keyword GfCounty=Keyword \
          GfTask=Keyword GfWaitingOn=KeywordList GfNextDeadline=Datetime; do
    temporal operator search-attribute create --address "$ADDR" --namespace "$NS" \
        --name "${sa%%=*}" --type "${sa#*=}" 2>/dev/null || true  # exists already
done
echo "Temporal namespace $NS ready"
