#!/usr/bin/env bash
# In the GitHub workflow: write newest=true to $GITHUB_OUTPUT when the commit being
# built ($GITHUB_SHA) is still the tip of main, newest=false (and a notice) when main
# has moved on, so a re-run of an old run never overwrites a newer deploy.
set -euo pipefail
: "${GH_TOKEN:?}" "${GITHUB_SHA:?}" "${GITHUB_REPOSITORY:?}" "${GITHUB_OUTPUT:?}"
api=${GITHUB_API_URL:-https://api.github.com}
head=$(curl -fsSL --retry 3 \
  -H "Authorization: Bearer $GH_TOKEN" \
  -H "Accept: application/vnd.github.sha" \
  "$api/repos/$GITHUB_REPOSITORY/commits/${DEPLOY_BRANCH:-main}")
if [ "$head" = "$GITHUB_SHA" ]; then
  echo "newest=true" >> "$GITHUB_OUTPUT"
else
  echo "::notice::main is now at $head, newer than $GITHUB_SHA: this run does not deploy."
  echo "newest=false" >> "$GITHUB_OUTPUT"
fi
