#!/usr/bin/env bash
# README.md's first set-up block, run as written on a bare Debian: a debootstrap minbase root plus python3 (what a
# Debian desktop has; BARE_DEBIAN_PREINSTALL names other packages, "" none), in a chroot, as root. Then the app offscreen, its --self-test, ldd of Qt's xcb plugin,
# and the app on X11 under xvfb-run (xvfb is installed only after the other checks, so that it adds no library
# they could be relying on).
#
#   tools/bare_debian_check.sh [ROOT]      as root, on a Debian/Ubuntu host with debootstrap
#
# ROOT must not exist yet (default /tmp/bare-debian); the logs go to ROOT-logs/, a table of every command with its
# exit status and seconds to ROOT-logs/summary.tsv. The project is copied into ROOT/home/user/app with
# `git archive $BARE_DEBIAN_REV` (default HEAD: commit what you want checked). pip in the root finds its packages
# as the host's does: the host's pip configuration files are copied in (with the CA file a `cert =` line names),
# and the local folders named in BARE_DEBIAN_PIP_DIRS are bind-mounted read-only at the same paths. sudo is not in minbase: when
# the root lacks it, a leading `sudo ` is dropped from the block's lines (the log says so). The block's last
# command starts the GUI, which stays up: it runs under `timeout $BARE_DEBIAN_APP_SECONDS` (default 60), and exit
# status 124 (still running when stopped) is its pass. Everything mounted is unmounted on exit; ROOT is kept for
# inspection unless BARE_DEBIAN_REMOVE=1. Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/bare-debian}
suite=${BARE_DEBIAN_SUITE:-bookworm}
mirror=${BARE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
rev=${BARE_DEBIAN_REV:-HEAD}
app_seconds=${BARE_DEBIAN_APP_SECONDS:-60}
pip_dirs=${BARE_DEBIAN_PIP_DIRS:-}
preinstall=${BARE_DEBIAN_PREINSTALL-python3}
logs=$root-logs
summary=$logs/summary.tsv
app=/home/user/app
mounted=()
failures=0

[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot and mount need it)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "no debootstrap: apt-get install -y debootstrap" >&2; exit 2; }
[ ! -e "$root" ] || { echo "$root exists: give a new folder, the check wants a fresh root" >&2; exit 2; }
mkdir -p "$logs" && : >"$summary"

unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" || umount -l "${mounted[i]}" || echo "could not unmount ${mounted[i]}" >&2
    done
    mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

mount_into_root() {  # mount_into_root TARGET MOUNT-ARGS...: mount under ROOT, remembered for unmount_all
    mkdir -p "$root$1"
    mount "${@:2}" "$root$1" && mounted+=("$root$1")
}

# step NAME EXPECTED COMMAND...: run COMMAND, its output into NAME.log, a row into summary.tsv; a failure is an
# exit status other than EXPECTED (a number, or "any" for a step that only records).
step() {
    local name=$1 expected=$2 start rc=0 seconds verdict
    shift 2
    start=$(date +%s.%N)
    echo "+ $*" >"$logs/$name.log"
    "$@" >>"$logs/$name.log" 2>&1 </dev/null || rc=$?
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    if [ "$expected" = any ] || [ "$rc" -eq "$expected" ]; then verdict=ok; else verdict=FAILED; failures=$((failures + 1)); fi
    printf '%s\t%s\t%s\t%ss\t%s\n' "$verdict" "$name" "$rc" "$seconds" "$*" | tee -a "$summary"
    return "$rc"
}

# in_root COMMAND...: COMMAND in the chroot, in a clean environment such as a root login has.
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
in_app() { in_root bash -c "cd $app && $1"; }  # in_app 'COMMAND LINE': a shell line in the project's folder

# The root: minbase, then python3.
step debootstrap 0 debootstrap --variant=minbase "$suite" "$root" "$mirror" || exit 1
du -sh --exclude=proc "$root" | sed 's/^/minbase root: /' | tee -a "$logs/sizes.txt"
mount_into_root /proc -t proc proc
mount_into_root /dev --bind /dev
step apt-lists any bash -c "ls -la '$root/var/lib/apt/lists'"
if [ -n "$preinstall" ]; then
    # shellcheck disable=SC2086  # a list of package names
    step preinstall 0 in_root apt-get install -y $preinstall || exit 1
    grep -hE '^(Need to get|After this operation)' "$logs/preinstall.log" | sed "s/^/apt ($preinstall): /" \
        | tee -a "$logs/sizes.txt"
fi

# The project and this machine's way to its Python packages.
mkdir -p "$root$app"
git -C "$repo" archive "$rev" | tar -x -C "$root$app" || exit 1
for file in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt /root/.config/pip/pip.conf; do
    [ -f "$file" ] || continue
    mkdir -p "$root$(dirname "$file")" && cp "$file" "$root$file"
    cert=$(sed -n 's/^cert *= *//p' "$file")  # the host's CA file, beside the root's own (which may lack its CAs)
    if [ -n "$cert" ] && [ -f "$cert" ]; then
        cp "$cert" "$root/etc/pip-host-ca.crt" && sed -i 's|^cert *=.*|cert = /etc/pip-host-ca.crt|' "$root$file"
    fi
done
for dir in $pip_dirs; do mount_into_root "$dir" --bind -o ro "$dir"; done
echo "sudo in the root: $(in_root sh -c 'command -v sudo || echo absent')" | tee -a "$logs/sizes.txt"

# README.md's first set-up block: the first ```bash fence after "## Set-up on a fresh machine", one step a line.
block=$(awk '/^## Set-up on a fresh machine/ {s=1} s && /^```bash/ {f=1; next} f && /^```/ {exit} f' "$root$app/README.md")
[ -n "$block" ] || { echo "no set-up block found in README.md" >&2; exit 1; }
printf '%s\n' "$block" >"$logs/readme-block.sh"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    if ! in_root sh -c 'command -v sudo' >/dev/null; then line=${line#sudo }; line=${line//&& sudo /&& }; fi
    expected=0
    if [[ $line == *.venv/bin/autoencoder-studio ]]; then  # the GUI: stays up until stopped
        line="${line%.venv/bin/autoencoder-studio}timeout $app_seconds .venv/bin/autoencoder-studio"
        expected=124
    fi
    step "readme-line-$n" "$expected" in_app "QT_QPA_PLATFORM=offscreen; export QT_QPA_PLATFORM; $line"
done <<<"$block"
grep -hE '^(Need to get|After this operation)' "$logs"/readme-line-*.log | sed 's/^/apt (README line): /' | tee -a "$logs/sizes.txt"

# What pip took: the size it printed for each archive it downloaded, the file's size for each it took from a local
# folder ("Processing /path"); then what the venv holds.
grep -hE '^ *(Downloading \S+ \([0-9.]+ [kMG]?B\)|Processing /\S+\.(whl|tar\.gz|zip))' "$logs"/readme-line-*.log \
    | sed 's/^ *//' >"$logs/pip-archives.txt"
while read -r verb archive size unit; do
    if [ "$verb" = Downloading ]; then
        awk -v n="${size#(}" -v u="${unit%)}" -v a="$archive" \
            'BEGIN {printf "%d %s downloaded\n", n * (u == "GB" ? 1e9 : u == "MB" ? 1e6 : u == "kB" ? 1e3 : 1), a}'
    else
        echo "$(stat -c %s "$root$archive") $archive local"
    fi
done <"$logs/pip-archives.txt" | tee "$logs/pip-sizes.txt" \
    | awk '{s[$3] += $1; n[$3]++} END {for (k in s) printf "pip archives %s: %d, %.1f MB\n", k, n[k], s[k] / 1e6}' \
    | tee -a "$logs/sizes.txt"
in_app 'du -sm .venv' | awk '{print "venv installed: " $1 " MB"}' | tee -a "$logs/sizes.txt"

# The app, headless and on X11.
step help 0 in_app '.venv/bin/autoencoder-studio --help'
step version 0 in_app '.venv/bin/autoencoder-studio --version'
step self-test 0 in_app '.venv/bin/autoencoder-studio --self-test'
plugin='.venv/lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so'
step ldd-xcb 0 in_app "out=\$(ldd $plugin) && echo \"\$out\" && ! grep 'not found' <<<\"\$out\" >/dev/null"
step offscreen-screenshot 0 in_app "QT_QPA_PLATFORM=offscreen timeout 600 .venv/bin/autoencoder-studio --screenshot /tmp/offscreen.png && test -s /tmp/offscreen.png"
# No display at all: the app's own library check must stay silent (nothing missing) before Qt gives up.
step no-display any in_app "timeout $app_seconds .venv/bin/autoencoder-studio"
if grep -q "needs libraries this system lacks" "$logs/no-display.log"; then
    echo "FAILED: the app names missing libraries" | tee -a "$summary"
    failures=$((failures + 1))
fi
step xvfb-install 0 in_root apt-get install -y xvfb xauth
grep -hE '^(Need to get|After this operation)' "$logs/xvfb-install.log" | sed 's/^/apt (xvfb): /' | tee -a "$logs/sizes.txt"
step xvfb-app 124 in_app "xvfb-run -a timeout $app_seconds .venv/bin/autoencoder-studio"
step xvfb-screenshot 0 in_app "xvfb-run -a -s '-screen 0 1366x768x24' timeout 600 .venv/bin/autoencoder-studio --screenshot /tmp/xcb.png && test -s /tmp/xcb.png"
cp "$root"/tmp/*.png "$logs/" 2>/dev/null

unmount_all
if mount | grep -F " $root/" >&2; then echo "still mounted under $root" >&2; exit 1; fi
if [ "${BARE_DEBIAN_REMOVE:-0}" = 1 ]; then rm -rf --one-file-system "$root"; fi
echo "$failures failed; summary: $summary"
[ "$failures" -eq 0 ]
