#!/bin/bash
# healthcheck.sh PORT PATH: exit 0 when http://127.0.0.1:PORT/PATH answers 2xx.
#
# Plain bash (/dev/tcp) so that every image, even one without Python or curl,
# checks its service the same way and no HTTP client is added just for this.
set -euo pipefail
port=$1
path=${2:-/}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
read -r -t 10 _ status _ <&3
case "$status" in
  2??) exit 0 ;;
  *) echo "GET $path on port $port answered ${status:-nothing}" >&2; exit 1 ;;
esac
