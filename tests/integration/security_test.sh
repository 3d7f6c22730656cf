#!/usr/bin/env bash
# Local security (issue 10, docs/SECURITY.md): another local user can neither
# read, redirect nor destroy a user's data through vol. Each test plays one
# attack as a second local user (created with useradd, removed when the test
# ends; the test skips when it cannot create users) and checks that it fails
# with nothing read, written or deleted: the victim's files keep their bytes
# and modes. The victim is the user running the tests, or a second created
# user where the attack targets /tmp/vol-UID (so that no other run's
# sessions are involved).
source "$(dirname "$0")/lib.sh"

USERS=()

_remove_users() {
  local u uid i
  for u in "${USERS[@]}"; do
    uid=$(id -u "$u" 2>/dev/null) || continue
    rm -rf -- "/tmp/vol-$uid"
    for i in {1..20}; do  # another process may hold the lock on /etc/passwd
      userdel "$u" 2>/dev/null && break
      sleep 0.5
    done
  done
}

# need_users: skips unless this test can create local users; removes them at the end.
need_users() {
  [[ $(id -u) -eq 0 ]] || skip "creating a second local user needs root"
  command -v useradd >/dev/null && command -v userdel >/dev/null || skip "useradd/userdel are missing"
  command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
  trap '_rc=$?; _remove_users; (exit $_rc); _cleanup' EXIT
  chmod 711 "$T"  # other users may pass through $T to what a test shares with them
}

# new_user VAR: creates a local user (no home, no login, its own group); sets
# VAR to its name and VAR_uid to its uid.
new_user() {
  local name="volt$$${RANDOM}" err i
  for i in {1..20}; do
    if err=$(useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$name" 2>&1); then
      USERS+=("$name")
      printf -v "$1" '%s' "$name"
      printf -v "$1_uid" '%s' "$(id -u "$name")"
      return 0
    fi
    sleep 0.5
  done
  fail "useradd $name: $err"
}

# as USER CMD...: runs CMD with USER's uid and group, keeping the environment.
as() {
  local u=$1
  shift
  setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

# mode PATH: octal permission bits, as stat shows them (e.g. 755, 4755).
mode() { stat -c %a -- "$1"; }

# What MaterialMode gives a stored mode: no setuid, setgid or o+w; no sticky on files.
material() {
  local m=$((8#$1))
  m=$((m & ~8#6002))
  [[ $2 == d ]] || m=$((m & ~8#1000))
  printf '%o' "$m"
}

# A second user as the victim, with a private home under $T, its own store
# (on the file:// pass) and a volume v holding /f.
setup_victim() {
  new_user victim
  VH=$T/victim
  mkdir -m 700 "$VH"
  chown "$victim:$victim" "$VH"
  export HOME=$VH
  on_s3 || export VOL_STORE=file://$VH/store
  as "$victim" sh -c 'echo "the victim'"'"'s content" > "$HOME/f"'
  as "$victim" "$VOL" create v >/dev/null
  as "$victim" "$VOL" put v "$VH/f" / >/dev/null
  # A cache path long enough that the session socket would not fit in it.
  LONG_CACHE=$VH/$(printf 'a-long-cache-directory-name-%.0s' 1 2 3 4)
  SQUAT=/tmp/vol-$victim_uid
  rm -rf -- "$SQUAT"  # left by an earlier user with this uid
  unset XDG_RUNTIME_DIR
}

# 1. An attacker's symlink at /tmp/vol-UID used to make the victim's next
#    `vol run` delete the victim's directories older than a day behind it.
test_tmp_socket_dir_planted_as_symlink_is_refused() {
  need_users
  new_user attacker
  setup_victim
  as "$victim" mkdir -p "$VH/data/old-project"
  as "$victim" sh -c "echo precious > '$VH/data/old-project/notes'"
  touch -d '3 days ago' "$VH/data/old-project"
  local before
  before=$(tree_listing "$VH/data")
  as "$attacker" ln -s "$VH/data" "$SQUAT"

  assert_fails_with "^vol: error: socket directory $SQUAT is a symbolic link" \
    as "$victim" env VOL_CACHE_DIR="$LONG_CACHE" "$VOL" run -v v -- cat /mnt/v/f
  assert_eq "$before" "$(tree_listing "$VH/data")" "the victim's data behind the link"
  assert_eq "$VH/data" "$(readlink "$SQUAT")"

  # With an XDG_RUNTIME_DIR of the victim's, /tmp is not needed at all.
  as "$victim" mkdir -m 700 "$VH/run"
  assert_eq "the victim's content" \
    "$(as "$victim" env VOL_CACHE_DIR="$LONG_CACHE" XDG_RUNTIME_DIR="$VH/run" "$VOL" run -v v -- cat /mnt/v/f)"
  assert_eq "" "$(ls -A "$VH/run/vol")" "session left behind in XDG_RUNTIME_DIR"
  assert_eq "$before" "$(tree_listing "$VH/data")"

  # Once the link is gone, the victim's own /tmp/vol-UID is made private and used.
  as "$attacker" rm "$SQUAT"
  assert_eq "the victim's content" \
    "$(as "$victim" env VOL_CACHE_DIR="$LONG_CACHE" "$VOL" run -v v -- cat /mnt/v/f)"
  assert_eq "$victim_uid 700" "$(stat -c '%u %a' "$SQUAT")"
}

# 1. An attacker's world-writable /tmp/vol-UID, holding their own session
#    (a `mounts` file naming their view), used to let them swap it in for
#    the victim's: the victim's programs then read the attacker's content and
#    wrote the victim's data into the attacker's directory.
test_tmp_socket_dir_of_another_user_is_refused() {
  need_users
  new_user attacker
  setup_victim
  as "$attacker" mkdir -m 777 "$SQUAT"
  as "$attacker" mkdir -p "$SQUAT/planted/view"
  as "$attacker" sh -c "echo 'the attacker s content' > '$SQUAT/planted/view/f'"
  printf '/mnt/v\t%s\trw\n' "$SQUAT/planted/view" | as "$attacker" sh -c "cat > '$SQUAT/planted/mounts'"
  chmod 777 "$SQUAT"
  local before
  before=$(tree_listing "$SQUAT")

  assert_fails_with "^vol: error: socket directory $SQUAT belongs to uid $attacker_uid, not to you \(uid $victim_uid\)" \
    as "$victim" env VOL_CACHE_DIR="$LONG_CACHE" "$VOL" run -v v -- sh -c 'cat /mnt/v/f; echo secret > /mnt/v/new'
  assert_eq "$before" "$(tree_listing "$SQUAT")" "the attacker's directory received something"
  assert_eq "f" "$(as "$victim" "$VOL" ls v /)" "the program ran"
  assert_eq "" "$(ls -A "$LONG_CACHE/sessions")" "session left behind"

  # The same directory, the victim's own but open to everyone, is refused too.
  rm -rf -- "$SQUAT"
  install -d -m 777 -o "$victim" -g "$victim" "$SQUAT"
  assert_fails_with "^vol: error: socket directory $SQUAT is open to other users \(mode 0777\): make it private with .chmod 700 $SQUAT." \
    as "$victim" env VOL_CACHE_DIR="$LONG_CACHE" "$VOL" run -v v -- cat /mnt/v/f
  assert_eq "" "$(ls -A "$SQUAT")"
  assert_eq 777 "$(mode "$SQUAT")" "an existing directory is never re-permissioned"
}

# 2. `vol commit --session DIR` used to trust DIR: a planted pending.json
#    with nothing to publish, and views-dir naming the victim's directory,
#    deleted that directory recursively.
test_commit_session_refuses_a_planted_directory() {
  need_users
  new_user attacker
  "$VOL" create v >/dev/null
  mkdir -p "$T/victim/dir/sub"
  echo precious > "$T/victim/dir/sub/notes"
  local before evil
  before=$(tree_listing "$T/victim")
  evil=$(as "$attacker" mktemp -d /tmp/vol-evil.XXXXXX)
  as "$attacker" chmod 755 "$evil"
  printf '{"store":"%s","mounts":[]}' "$VOL_STORE" | as "$attacker" sh -c "cat > '$evil/pending.json'"
  printf '%s' "$T/victim/dir" | as "$attacker" sh -c "cat > '$evil/views-dir'"

  assert_fails_with "^vol: error: session directory $evil belongs to uid $attacker_uid, not to you" \
    "$VOL" commit --session "$evil"
  assert_eq "$before" "$(tree_listing "$T/victim")" "the victim's directory"

  # Copied into a private directory of the victim's, it is still refused:
  # views-dir is not the session's own sessions/ID directory.
  local copy=$T/cache/sessions/123-abc
  mkdir -p "$copy"
  chmod 700 "$T/cache" "$copy"
  cp "$evil/pending.json" "$evil/views-dir" "$copy/"
  assert_fails_with "^vol: error: session $copy names $T/victim/dir as its views, which is not a session directory" \
    "$VOL" commit --session "$copy"
  assert_eq "$before" "$(tree_listing "$T/victim")" "the victim's directory"
  rm -rf -- "$evil"
}

# 3. `vol get` used to write LOCAL.vol-tmp.PID with O_CREAT|O_TRUNC and chmod
#    it by path: in a directory others can write, a link planted under that
#    name made the victim overwrite and re-permission any file of theirs.
test_get_into_a_shared_directory_follows_no_planted_link() {
  need_users
  new_user attacker
  "$VOL" create v >/dev/null
  printf 'from the volume\n' > "$T/src"
  chmod 4755 "$T/src"
  "$VOL" put v "$T/src" /f >/dev/null
  printf "the victim's secret\n" > "$T/secret"
  chmod 600 "$T/secret"
  mkdir "$T/shared"
  chmod 777 "$T/shared"
  # Every name the old scheme could pick for the next few thousand pids,
  # hidden or not, links to the secret.
  # (perl: one process, so the pids stay ahead of the victim's; perl-base is essential in Debian)
  as "$attacker" perl -e '
    my ($shared, $secret) = @ARGV;
    for my $pid ($$ .. $$ + 3000) {
      symlink($secret, "$shared/$_") or die "$_: $!" for ("out.vol-tmp.$pid", ".out.vol-tmp.$pid");
    }' "$T/shared" "$T/secret"
  local planted
  planted=$(find "$T/shared" -type l | wc -l)

  assert_ok "$VOL" get v /f "$T/shared/out" >/dev/null
  assert_eq "the victim's secret" "$(cat "$T/secret")"
  assert_eq 600 "$(mode "$T/secret")"
  assert_eq "from the volume" "$(cat "$T/shared/out")"
  [[ -f "$T/shared/out" && ! -L "$T/shared/out" ]] || fail "out is not a regular file"
  assert_eq 755 "$(mode "$T/shared/out")" "setuid from the store"
  assert_eq "$planted" "$(find "$T/shared" -type l -lname "$T/secret" | wc -l)" "planted links"
  assert_eq 1 "$(find "$T/shared" -type f | wc -l)" "a temporary file was left"
}

# 4. Modes from the store were applied as stored: a crafted tree gave setuid
#    and setgid programs and world-writable directories in `vol get` output
#    and in views, and `vol ls -l` showed rwxr-xr-x for a stored 4755.
test_special_modes_from_the_store_are_not_applied() {
  mkdir -p src/open src/tmp src/group
  local f
  for f in suid sgid both all shared sticky plain; do printf '#!/bin/sh\necho %s\n' "$f" > "src/$f"; done
  chmod 4755 src/suid; chmod 2755 src/sgid; chmod 6755 src/both; chmod 7777 src/all
  chmod 666 src/shared; chmod 1644 src/sticky 2>/dev/null || true; chmod 640 src/plain
  chmod 7777 src/open; chmod 1777 src/tmp; chmod 2770 src/group
  assert_eq 6755 "$(mode src/both)" "crafting the tree (setgid needs the file's group)"
  "$VOL" create v >/dev/null
  "$VOL" put v ./src/ / >/dev/null

  # vol ls -l shows the modes as stored, as ls -l shows the originals.
  local name type stored want listed
  for name in suid sgid both all shared sticky plain open tmp group; do
    type=$([[ -d src/$name ]] && echo d || echo f)
    listed=$("$VOL" ls v / -l | awk -v n="$name" '$NF == n || $NF == n "/" {print $1}')
    assert_eq "$(stat -c %A "src/$name")" "$listed" "vol ls -l of $name"
  done

  "$VOL" get v / got >/dev/null
  "$VOL" get --preserve-special-modes v / kept >/dev/null
  local view kept_view
  view=$("$VOL" run -v v -- sh -c 'cd /mnt/v && stat -c "%n %a" *')
  kept_view=$("$VOL" run --preserve-special-modes -v v -- sh -c 'cd /mnt/v && stat -c "%n %a" *')
  for name in suid sgid both all shared sticky plain open tmp group; do
    type=$([[ -d src/$name ]] && echo d || echo f)
    stored=$(mode "src/$name")
    want=$(material "$stored" "$type")
    assert_eq "$want" "$(mode "got/$name")" "vol get of $name (stored $stored)"
    assert_eq "$stored" "$(mode "kept/$name")" "vol get --preserve-special-modes of $name"
    assert_match "^$name $want\$" "$(grep "^$name " <<<"$view")" "the view of $name (stored $stored)"
    assert_match "^$name $stored\$" "$(grep "^$name " <<<"$kept_view")" "the preserved view of $name"
  done
  assert_eq "" "$(find got -perm /6002 -o -type f -perm /1000)" "special bits in vol get output"
}

# 5. Cached chunks were 0644 in 0755 directories and an existing cache
#    directory was used as it was: another user read cached content of a
#    volume they could not reach.
test_cache_is_private_and_an_open_one_is_refused() {
  need_users
  new_user attacker
  mkdir "$T/pub"
  chmod 1777 "$T/pub"  # like /tmp: anyone may create, no one may replace another's
  head -c 5000000 /dev/urandom > "$T/big"
  "$VOL" create v >/dev/null
  "$VOL" put v "$T/big" /big >/dev/null
  local cache=$T/pub/cache
  VOL_CACHE_DIR=$cache "$VOL" run -v v -- cat /mnt/v/big > "$T/read"
  assert_file_eq "$T/big" "$T/read"
  local chunk
  chunk=$(find "$cache/files" -type f | head -1)
  [[ -n "$chunk" ]] || fail "nothing was cached"
  assert_eq "" "$(find "$cache" -perm /077)" "cache entries other users can use"
  assert_eq 700 "$(mode "$cache")"
  # The attacker sees nothing of it.
  if as "$attacker" ls "$cache" >/dev/null 2>&1; then fail "the attacker listed the cache"; fi
  if as "$attacker" cat "$chunk" >/dev/null 2>&1; then fail "the attacker read a cached chunk"; fi
  if as "$attacker" find "$cache" -type f 2>/dev/null | grep -q .; then fail "the attacker found cache files"; fi

  # An existing cache directory open to others is refused before anything lands in it.
  mkdir "$T/pub/open"
  chmod 777 "$T/pub/open"
  assert_fails_with "^vol: error: cache directory $T/pub/open is open to other users \(mode 0777\): make it private with .chmod 700 $T/pub/open." \
    env VOL_CACHE_DIR="$T/pub/open" "$VOL" run -v v -- cat /mnt/v/big
  assert_eq "" "$(ls -A "$T/pub/open")"
  # And so is one the attacker made ready for the victim.
  as "$attacker" mkdir -m 700 "$T/pub/theirs"
  assert_fails_with "^vol: error: cache directory $T/pub/theirs belongs to uid $attacker_uid, not to you" \
    env VOL_CACHE_DIR="$T/pub/theirs" "$VOL" run -v v -- cat /mnt/v/big
  assert_eq "" "$(ls -A "$T/pub/theirs")"
}

run_tests "$@"
