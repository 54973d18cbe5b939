# Sourced by the labs that build git repositories (gateway-lab.sh, ticketbot-lab.sh): the
# same commits, and so the same ids, on every machine.

# No user or system git config, no identity or dates from the environment.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE

# new_repo DIR NAME EMAIL: an empty repository on branch main, committing as NAME <EMAIL>.
new_repo() {
  git init -q -b main "$1"
  git -C "$1" config user.name "$2"
  git -C "$1" config user.email "$3"
}

# commit REPO DATE AUTHOR MESSAGE: everything in REPO, authored and committed at DATE.
commit() {
  git -C "$1" add -A
  GIT_AUTHOR_DATE="$2" GIT_COMMITTER_DATE="$2" git -C "$1" -c user.name="$3" \
    -c user.email="$(echo "$3" | tr 'A-Z ' 'a-z.')@example.com" commit -q -m "$4"
}
