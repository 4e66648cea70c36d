#!/usr/bin/env bash
# Install what building and testing xpoll needs, from Debian bookworm only.
#   scripts/deps.sh [EXTRA-PACKAGE...]
# Idempotent: packages already present are not touched, apt is not even asked.
set -euo pipefail

KVER_PKG=${XPOLL_DISTRO_PKG:-6.1.0-56-amd64}

pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev kmod cpio xz-utils
	ccache sparse python3 perl rsync groff-base
	qemu-system-x86 busybox-static
	linux-source-6.1 "linux-headers-${KVER_PKG}"
	gcc-multilib
)
# Extra packages named on the command line (e.g. `scripts/deps.sh dkms`).
pkgs+=("$@")
# Packages a tool needs (real programs, load generators, plotting) are
# listed beside it, one a line.
here=$(cd "$(dirname "$0")/.." && pwd)
for list in "$here"/tools/*/packages.txt; do
	[ -f "$list" ] || continue
	while read -r p _; do
		case "$p" in "" | "#"*) continue ;; esac
		pkgs+=("$p")
	done <"$list"
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo ">> installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo ">> packages installed"
