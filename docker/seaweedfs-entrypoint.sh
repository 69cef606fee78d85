#!/bin/bash
# Runs `weed mini` bound to 127.0.0.1 with one S3 identity from the environment
# ($SEAWEEDFS_ACCESS_KEY_ID / $SEAWEEDFS_SECRET_ACCESS_KEY), then creates the
# buckets of $SEAWEEDFS_BUCKETS that are missing. Every gRPC port is its HTTP
# port + 10000, weed's own convention. The container is healthy only once the
# buckets exist (/tmp/buckets-ready).
set -euo pipefail

: "${SEAWEEDFS_ACCESS_KEY_ID:?is required: set ROADTEST_S3_ACCESS_KEY_ID in the env file}"
: "${SEAWEEDFS_SECRET_ACCESS_KEY:?is required: set ROADTEST_S3_SECRET_ACCESS_KEY in the env file}"
rm -f /tmp/buckets-ready
config=/tmp/s3.json
umask 077
printf '{"identities":[{"name":"roadtest","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
  "$SEAWEEDFS_ACCESS_KEY_ID" "$SEAWEEDFS_SECRET_ACCESS_KEY" > "$config"

weed mini -dir=/data -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$SEAWEEDFS_MASTER_PORT" -master.port.grpc=$((SEAWEEDFS_MASTER_PORT + 10000)) \
  -volume.port="$SEAWEEDFS_VOLUME_PORT" -volume.port.grpc=$((SEAWEEDFS_VOLUME_PORT + 10000)) \
  -filer.port="$SEAWEEDFS_FILER_PORT" -filer.port.grpc=$((SEAWEEDFS_FILER_PORT + 10000)) \
  -s3.port="$SEAWEEDFS_S3_PORT" -s3.port.grpc=$((SEAWEEDFS_S3_PORT + 10000)) \
  -admin.port="$SEAWEEDFS_ADMIN_PORT" -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$config" \
  -webdav=false -master.telemetry=false &
weed_pid=$!
trap 'kill -TERM "$weed_pid"' TERM INT

until healthcheck "$SEAWEEDFS_S3_PORT" /healthz 2>/dev/null; do
  kill -0 "$weed_pid" 2>/dev/null || { echo "weed mini exited before answering" >&2; exit 1; }
  sleep 1
done
existing=$(echo "s3.bucket.list" | weed shell -master="127.0.0.1:$SEAWEEDFS_MASTER_PORT" \
  -filer="127.0.0.1:$SEAWEEDFS_FILER_PORT" 2>/dev/null | awk '{print $1}')
for bucket in $SEAWEEDFS_BUCKETS; do
  if ! grep -qx "$bucket" <<< "$existing"; then
    echo "s3.bucket.create -name $bucket" | weed shell -master="127.0.0.1:$SEAWEEDFS_MASTER_PORT" \
      -filer="127.0.0.1:$SEAWEEDFS_FILER_PORT" >/dev/null
    echo "created bucket $bucket"
  fi
done
touch /tmp/buckets-ready
wait "$weed_pid"
