#!/bin/sh
# Loads the Kibana saved objects (data view, visualizations, the "ML Pipeline Logs
# Dashboard") and creates or updates the error-rate rule, through Kibana's API.
# Idempotent: run it again after changing the files. Used by `just kibana-import` and by
# the compose file's kibana-init container.
#   KIBANA_URL      default http://localhost:5601
#   KIBANA_USER     default elastic
#   ELASTIC_PASSWORD required (the elastic user's password, see observability/.env.example)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
url=${KIBANA_URL:-http://localhost:5601}
user=${KIBANA_USER:-elastic}
: "${ELASTIC_PASSWORD:?set ELASTIC_PASSWORD (see observability/.env.example)}"
auth="$user:$ELASTIC_PASSWORD"

echo "waiting for Kibana at $url"
i=0
until curl -fsS -u "$auth" "$url/api/status" 2>/dev/null | grep -q '"level":"available"'; do
  i=$((i + 1))
  [ "$i" -lt 120 ] || { echo "Kibana did not become available" >&2; exit 1; }
  sleep 5
done

echo "importing saved objects"
curl -fsS -u "$auth" -H 'kbn-xsrf: true' \
  -X POST "$url/api/saved_objects/_import?overwrite=true" \
  --form file=@"$here/saved-objects.ndjson" | grep -q '"success":true' \
  || { echo "the saved-object import failed" >&2; exit 1; }

rule=ml-pipeline-error-rate
echo "creating the error-rate rule"
status=$(curl -sS -o /dev/null -w '%{http_code}' -u "$auth" -H 'kbn-xsrf: true' \
  -H 'Content-Type: application/json' -X POST "$url/api/alerting/rule/$rule" \
  --data @"$here/error-rate-rule.json")
if [ "$status" = 409 ]; then
  # It exists: update it (an update takes no rule type or consumer).
  sed -e '/"rule_type_id"/d' -e '/"consumer"/d' "$here/error-rate-rule.json" >/tmp/rule-update.json
  status=$(curl -sS -o /dev/null -w '%{http_code}' -u "$auth" -H 'kbn-xsrf: true' \
    -H 'Content-Type: application/json' -X PUT "$url/api/alerting/rule/$rule" \
    --data @/tmp/rule-update.json)
fi
[ "$status" -lt 300 ] || { echo "creating the rule answered $status" >&2; exit 1; }
echo "done: $url/app/dashboards#/view/ml-pipeline-logs"
