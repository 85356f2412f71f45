#!/usr/bin/env bash
# Copy the built site to the agency's nginx server over SSH: `make deploy` (a person)
# and the GitHub workflow (DEPLOY_TARGET=server) both run this.
#   DEPLOY_HOST   user@host of the server          (required)
#   DEPLOY_PATH   the folder nginx serves, e.g. /srv/dvk/site   (required; absolute,
#                 or relative to rrsync's root when DEPLOY_RRSYNC=1)
#   DEPLOY_SSH    the ssh command, e.g. "ssh -p 2222 -i key"     (default: ssh)
#   DEPLOY_RRSYNC 1 when the server restricts the key with rrsync (docs/COUNTER.md)
#   DEPLOY_SERVER_PATH  the upload folder for the build's nginx files (<output>-server/:
#                 CSP, redirect map), watched by deploy/dvk-server-files.path; unset:
#                 they are not uploaded
#   DEPLOY_INIT   1 to copy into a non-empty folder without the .dvk-site marker,
#                 deleting nothing (the first deploy over an older site)
# rsync sends changed files into hidden temporary names and renames them all at the
# end (--delay-updates), then deletes what the new build no longer has
# (--delete-after). Content-hashed files (name.<8 hex>.ext) are never deleted, so a
# page a reader loaded just before the deploy still finds its stylesheet. Pull-request
# previews (/xem-truoc/, .github/workflows/preview.yml) are never deleted either.
# Nothing is deleted unless the target already holds the build's marker file
# .dvk-site (checked first with `rsync --list-only`), or is empty or missing.
set -euo pipefail
: "${DEPLOY_HOST:?DEPLOY_HOST is not set (user@host of the server)}"
source_dir=${1:-output}
marker=.dvk-site
rsh=${DEPLOY_SSH:-ssh}

fail() {
  echo "LỖI $*" >&2
  exit 1
}

# Refuse a target path that could point at the wrong folder.
check_path() {
  local name=$1 path=$2
  [[ -n $path ]] || fail "$name trống: hãy ghi thư mục của trang, ví dụ /srv/dvk/site."
  [[ $path =~ [[:space:]] ]] && fail "$name “$path” có dấu cách: hãy dùng đường dẫn không có dấu cách."
  [[ $path == "~"* ]] && fail "$name “$path” bắt đầu bằng ~: hãy ghi đường dẫn đầy đủ."
  # Wildcards, quotes, $ and the like are expanded by rsync or the server's shell
  # (rsync's --list-only below would find the marker of another folder).
  [[ $path =~ ^[A-Za-z0-9._/@+,=-]+$ ]] ||
    fail "$name “$path” có ký tự đặc biệt (chỉ dùng chữ không dấu, số và . _ - / @ + , =)."
  [[ $path == -* ]] && fail "$name “$path” bắt đầu bằng “-”: hãy ghi thư mục của trang, ví dụ /srv/dvk/site."
  [[ /$path/ == */../* ]] && fail "$name “$path” chứa “..”: hãy ghi đường dẫn thẳng tới thư mục."
  [[ /$path/ == */./* || $path == . || $path == / || ${path//\//} == "" ]] &&
    fail "$name “$path” trỏ tới thư mục gốc hoặc thư mục hiện tại: hãy ghi thư mục của trang, ví dụ /srv/dvk/site."
  if [[ ${DEPLOY_RRSYNC:-0} == 1 ]]; then
    [[ $path == /* ]] && fail "$name “$path”: với rrsync, hãy ghi đường dẫn tương đối với thư mục gốc của rrsync (ví dụ site)."
  else
    [[ $path == /* ]] || fail "$name “$path” phải là đường dẫn tuyệt đối (bắt đầu bằng /), trừ khi khóa dùng rrsync (DEPLOY_RRSYNC=1)."
  fi
  return 0
}

check_path DEPLOY_PATH "${DEPLOY_PATH-}"
server_dir="${source_dir%/}-server"
if [[ -n ${DEPLOY_SERVER_PATH:-} && -d $server_dir ]]; then
  check_path DEPLOY_SERVER_PATH "$DEPLOY_SERVER_PATH"
  # nginx's files never go into the site's folder (nor the site into theirs).
  site_dir=${DEPLOY_PATH%/}/ nginx_dir=${DEPLOY_SERVER_PATH%/}/
  [[ $nginx_dir == "$site_dir"* || $site_dir == "$nginx_dir"* ]] &&
    fail "DEPLOY_SERVER_PATH “$DEPLOY_SERVER_PATH” nằm trong DEPLOY_PATH “$DEPLOY_PATH” (hoặc ngược lại): tệp cấu hình nginx phải ở ngoài thư mục của trang, ví dụ /srv/dvk-upload/server."
fi
test -f "$source_dir/index.html" || fail "Chưa có trang để triển khai trong $source_dir/: chạy make publish trước."
test -f "$source_dir/$marker" || fail "$source_dir/ không có tệp $marker của bản dựng: chạy make publish trước."
target=${DEPLOY_PATH%/}

# What is at the target now: the marker (ours), nothing (first deploy), or else.
delete=(--delete-after)
if rsync --list-only --rsh="$rsh" "$DEPLOY_HOST:$target/$marker" >/dev/null 2>&1; then
  :
elif listing=$(rsync --list-only --rsh="$rsh" "$DEPLOY_HOST:$target/" 2>&1) &&
  [[ $(grep -cvE ' \.$' <<<"$listing") == 0 ]] ||
  grep -q 'No such file or directory' <<<"$listing"; then
  echo "Thư mục $DEPLOY_HOST:$target trống hoặc chưa có: lần triển khai đầu tiên."
elif [[ ${DEPLOY_INIT:-0} == 1 ]]; then
  echo "DEPLOY_INIT=1: chép vào $DEPLOY_HOST:$target mà không xóa tệp nào."
  delete=()
else
  fail "$DEPLOY_HOST:$target có tệp nhưng không có $marker, nên có thể không phải thư mục của trang: không xóa gì. Kiểm tra DEPLOY_PATH; nếu đúng là thư mục của trang cũ, chạy một lần với DEPLOY_INIT=1 (chép, không xóa)."
fi

hex='[0-9a-f]'
hashed="*.$hex$hex$hex$hex$hex$hex$hex$hex.*"
rsync --recursive --links --times --compress --human-readable --stats \
  --chmod=D755,F644 --delay-updates "${delete[@]}" \
  --filter="P $hashed" --filter='P /xem-truoc/' --exclude='.~tmp~/' \
  --rsh="$rsh" \
  "$source_dir/" "$DEPLOY_HOST:$target/"
echo "Đã triển khai $source_dir/ lên $DEPLOY_HOST:$DEPLOY_PATH."

if [[ -n ${DEPLOY_SERVER_PATH:-} && -d $server_dir ]]; then
  rsync --recursive --times --chmod=D755,F644 --include='*.conf' --include='*.map' \
    --exclude='*' --rsh="$rsh" "$server_dir/" "$DEPLOY_HOST:${DEPLOY_SERVER_PATH%/}/"
  echo "Đã gửi tệp cấu hình máy chủ ($server_dir/) lên $DEPLOY_HOST:$DEPLOY_SERVER_PATH."
fi
