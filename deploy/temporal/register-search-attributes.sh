#!/bin/sh
# Registers the custom search attributes the workflows upsert (see temporal/ and DESIGN.md 3.3).
# Runs as a one-shot job after the server is healthy; safe to run again: an attribute that already exists
# with the same type is left alone, one with another type fails the job loudly.
set -eu

: "${TEMPORAL_ADDRESS:?}"
: "${TEMPORAL_NAMESPACE:=default}"

existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$TEMPORAL_NAMESPACE" -o json)

register() {
  name=$1
  type=$2
  if printf '%s' "$existing" | grep -q "\"$name\""; then
    echo "search attribute $name already registered"
    return 0
  fi
  temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$TEMPORAL_NAMESPACE" \
    --name "$name" --type "$type"
  echo "search attribute $name ($type) registered"
}

register AssetNumber Keyword
register LifecycleStep Keyword
register AwaitingTask Keyword
register Department Keyword
register Location Keyword
register LifecycleProcess Keyword
register NeedsAttention Bool
register LifecycleStatus Keyword
register CampaignId Keyword
