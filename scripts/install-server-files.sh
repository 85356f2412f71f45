#!/usr/bin/env bash
# Install the files the build makes for nginx (the CSP header, a redirect map, …)
# from the upload folder into nginx's own configuration, safely. Run as root by
# deploy/dvk-server-files.service whenever the upload folder changes; install it
# root-owned (e.g. /usr/local/sbin/dvk-install-server-files), never where the
# deploy key can write.
#   install-server-files.sh [UPLOAD_DIR [TARGET_DIR]]
#   UPLOAD_DIR    what the deploy key uploaded   (default /srv/dvk-upload/server)
#   TARGET_DIR    where nginx includes them from (default /etc/nginx/dvk-portal)
#   NGINX_TEST    the check to run               (default: nginx -t -q)
#   NGINX_RELOAD  the reload to run              (default: systemctl reload nginx)
# Every *.conf and *.map file is checked line by line (a .conf holds only
# `add_header Name "value" [always];` lines, a .map only `key value;` pairs), then
# all are copied in, `nginx -t` runs, and only if it passes is nginx reloaded. If
# anything fails, the previous files are put back and the script exits 1.
set -euo pipefail
upload=${1:-/srv/dvk-upload/server}
target=${2:-/etc/nginx/dvk-portal}
nginx_test=${NGINX_TEST:-nginx -t -q}
nginx_reload=${NGINX_RELOAD:-systemctl reload nginx}
max_bytes=1048576

fail() {
  echo "install-server-files: $*" >&2
  exit 1
}

# A .conf line: add_header Name "value without quotes, backslashes, $, braces, ;" [always];
conf_line='add_header [A-Za-z][A-Za-z0-9-]* "[^"\\${};[:cntrl:]]*"( always)?;'
# A .map line: two tokens without quotes, braces, ; or # (a regex key may use
# $ ^ ~ and backslashes, but no backslash may escape the final ;).
map_token='[^[:space:]"'"'"'{};#[:cntrl:]]+'
map_line="$map_token[[:space:]]+$map_token;"

check_file() {
  local file=$1 name=$2 pattern
  [[ $name =~ ^[a-z0-9][a-z0-9._-]*\.(conf|map)$ ]] || fail "$name: not a plain *.conf or *.map name"
  [[ -f $file && ! -L $file ]] || fail "$name: not a regular file"
  (($(stat -c %s "$file") <= max_bytes)) || fail "$name: larger than $max_bytes bytes"
  if [[ $name == *.conf ]]; then pattern=$conf_line; else pattern=$map_line; fi
  local bad
  bad=$(grep -nvE -e '^[[:space:]]*$' -e '^[[:space:]]*#[^[:cntrl:]]*$' -e "^[[:space:]]*$pattern[[:space:]]*\$" "$file" | head -3 || true)
  [[ -z $bad ]] || fail "$name: lines nginx must not get: $bad"
  if [[ $name == *.map ]] && grep -qE -e '^[[:space:]]*include[[:space:]]' -e '\\;' "$file"; then
    fail "$name: include and \\; are not allowed in a map"
  fi
}

[[ -d $upload ]] || fail "no upload folder $upload"
mkdir -p "$target"
shopt -s nullglob
files=("$upload"/*.conf "$upload"/*.map)
((${#files[@]})) || { echo "install-server-files: nothing to install in $upload"; exit 0; }
# Copy first, then check and install the copies: the deploy key may change its
# files at any time, and what nginx gets must be what was checked.
stage=$(mktemp -d)
backup=$(mktemp -d)
trap 'rm -rf "$stage" "$backup"' EXIT
staged=()
for file in "${files[@]}"; do
  name=$(basename "$file")
  check_file "$file" "$name" # refuse a symlink or a huge file before copying it
  cp --no-dereference -- "$file" "$stage/$name"
  check_file "$stage/$name" "$name"
  staged+=("$stage/$name")
done
files=("${staged[@]}")
restore() {
  for file in "${files[@]}"; do
    name=$(basename "$file")
    if [[ -e $backup/$name ]]; then
      cp -p "$backup/$name" "$target/$name"
    else
      rm -f "$target/$name"
    fi
  done
}
for file in "${files[@]}"; do
  name=$(basename "$file")
  [[ -e $target/$name ]] && cp -p "$target/$name" "$backup/$name"
  install -m 0644 "$file" "$target/.$name.new"
  mv -f "$target/.$name.new" "$target/$name"
done
if ! output=$($nginx_test 2>&1); then
  restore
  fail "nginx -t refused the new files, the previous ones are back: $output"
fi
$nginx_reload || { restore; fail "reloading nginx failed, the previous files are back"; }
echo "install-server-files: installed ${#files[@]} file(s) into $target and reloaded nginx"
