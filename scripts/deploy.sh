#!/usr/bin/env bash
# Copy the built site to the agency's nginx server over SSH: `make deploy` (a person)
# and the GitHub workflow (DEPLOY_TARGET=server) both run this.
#   DEPLOY_HOST  user@host of the server          (required)
#   DEPLOY_PATH  the folder nginx serves, e.g. /srv/dvk/site   (required)
#   DEPLOY_SSH   the ssh command, e.g. "ssh -p 2222 -i key"     (default: ssh)
# rsync sends changed files into hidden temporary names and renames them all at the
# end (--delay-updates), then deletes what the new build no longer has
# (--delete-after). Content-hashed files (name.<8 hex>.ext) are never deleted, so a
# page a reader loaded just before the deploy still finds its stylesheet. Pull-request
# previews (/xem-truoc/, .github/workflows/preview.yml) are never deleted either.
set -euo pipefail
: "${DEPLOY_HOST:?DEPLOY_HOST is not set (user@host of the server)}"
: "${DEPLOY_PATH:?DEPLOY_PATH is not set (the folder nginx serves)}"
source_dir=${1:-output}
test -f "$source_dir/index.html" || {
  echo "LỖI Chưa có trang để triển khai trong $source_dir/: chạy make publish trước." >&2
  exit 1
}
hex='[0-9a-f]'
hashed="*.$hex$hex$hex$hex$hex$hex$hex$hex.*"
rsync --recursive --links --times --compress --human-readable --stats \
  --chmod=D755,F644 --delay-updates --delete-after \
  --filter="P $hashed" --filter='P /xem-truoc/' --exclude='.~tmp~/' \
  --rsh="${DEPLOY_SSH:-ssh}" \
  "$source_dir/" "$DEPLOY_HOST:${DEPLOY_PATH%/}/"
echo "Đã triển khai $source_dir/ lên $DEPLOY_HOST:$DEPLOY_PATH."
