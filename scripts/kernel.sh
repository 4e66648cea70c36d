#!/usr/bin/env bash
# Prepare a guest kernel and print the folder that holds it.
#
#   scripts/kernel.sh debug    bzImage + full build tree (KDIR) from linux-source-6.1,
#                              allnoconfig + scripts/debug.config
#   scripts/kernel.sh distro   Debian's linux-image-*-amd64, unpacked (never installed),
#                              with the modules a guest needs to mount 9p
#   scripts/kernel.sh ksft     kselftest_harness.h, kunit.py, checkpatch.pl from
#                              linux-source-6.1 (prints the selftests include folder)
#
# Results are cached in $XPOLL_CACHE (default $XDG_CACHE_HOME/xpoll, else
# ~/.cache/xpoll), keyed by the package version and a hash of the recipe, so a
# change to the fragment or to this script rebuilds. A flock serialises
# concurrent callers: the second waits and then finds the result ready.
# Progress goes to stderr; stdout carries only the folder's path.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${XPOLL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xpoll}
DISTRO_PKG=${XPOLL_DISTRO_PKG:-6.1.0-56-amd64}
mkdir -p "$CACHE"

log() { printf '>> %s\n' "$*" >&2; }
die() { printf 'kernel.sh: %s\n' "$*" >&2; exit 1; }

# Bump when the way a kernel is built changes (not for cosmetic edits here):
# it is part of the cache key, together with the package version and, for
# the debug kernel, the config fragment.
DEBUG_RECIPE=2
DISTRO_RECIPE=2

recipe_hash() {
	{ echo "$1"; shift; cat "$@"; } | sha256sum | cut -c1-12
}

# Build the debug kernel from the linux-source-6.1 tarball.
debug() {
	local ver key dir
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		die "linux-source-6.1 is not installed (run scripts/deps.sh)"
	key="debug-$ver-$(recipe_hash "$DEBUG_RECIPE" "$here/debug.config")"
	dir="$CACHE/$key"
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	exec 9>"$CACHE/debug.lock"
	log "waiting for the kernel build lock" && flock 9
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	log "debug kernel $key: unpacking linux-source-6.1 $ver"
	tar -C "$dir" -xf /usr/src/linux-source-6.1.tar.xz
	mv "$dir"/linux-source-6.1 "$dir/src"
	local src="$dir/src" obj="$dir/build" jobs
	mkdir -p "$obj"
	jobs=$(nproc)
	export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
	export KBUILD_BUILD_TIMESTAMP='xpoll' KBUILD_BUILD_USER=xpoll KBUILD_BUILD_HOST=xpoll
	local mk=(make -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" -j"$jobs")
	log "configuring: allnoconfig + debug.config"
	"${mk[@]}" allnoconfig >/dev/null
	# merge_config.sh leaves temporary files in its working folder.
	(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$here/debug.config" >/dev/null)
	"${mk[@]}" olddefconfig >/dev/null
	# Every line of the fragment must have survived olddefconfig, or the
	# guest silently lacks a checker.
	local line missing=0
	while read -r line; do
		case "$line" in CONFIG_*) ;; *) continue ;; esac
		if [[ "$line" == *=n ]]; then
			grep -qx "${line%=n}=y" "$obj/.config" && { log "not unset: $line"; missing=1; }
		else
			grep -qx "$line" "$obj/.config" || { log "not set: $line"; missing=1; }
		fi
	done <"$here/debug.config"
	[ $missing -eq 0 ] || die "config fragment did not apply"
	log "building bzImage and modules with $jobs jobs (about 15 minutes on 2 cores, cold)"
	local start=$SECONDS n=0
	# One line per 100 objects, so a long build never looks hung.
	# `modules` (none are configured) writes Module.symvers, without which
	# external modules link against nothing.
	"${mk[@]}" bzImage modules 2>&1 | while IFS= read -r line; do
		case "$line" in
		*" CC "* | *" AS "* | *" LD "* | *" AR "*)
			n=$((n + 1))
			if [ $((n % 100)) -eq 0 ]; then
				log "  ... $n objects, $((SECONDS - start)) s"
			fi
			;;
		*error* | *Error* | *warning:*) printf '%s\n' "$line" >&2 ;;
		esac
	done
	[ "${PIPESTATUS[0]}" -eq 0 ] || die "debug kernel build failed"
	cp "$obj/arch/x86/boot/bzImage" "$dir/bzImage"
	"${mk[@]}" -s kernelrelease >"$dir/release"
	log "debug kernel ready in $((SECONDS - start)) s: $(cat "$dir/release")"
	touch "$dir/.done"
	# Drop older debug kernels: only one recipe is current.
	find "$CACHE" -maxdepth 1 -name 'debug-*' ! -name "$key" -exec rm -rf {} +
	echo "$dir"
}

# Unpack Debian's kernel image and collect the modules a 9p guest needs.
distro() {
	local ver key dir kver
	kver=$DISTRO_PKG
	ver=$(apt-cache policy "linux-image-$kver" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "linux-image-$kver is not in the package lists"
	key="distro-$kver-$ver-$(recipe_hash "$DISTRO_RECIPE")"
	dir="$CACHE/$key"
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	exec 9>"$CACHE/distro.lock"
	flock 9
	if [ -f "$dir/.done" ]; then
		echo "$dir"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir/pkg"
	log "distro kernel: downloading linux-image-$kver $ver"
	(cd "$dir" && apt-get download -q "linux-image-$kver=$ver" >/dev/null 2>&1)
	dpkg-deb -x "$dir"/linux-image-*.deb "$dir/pkg"
	rm -f "$dir"/linux-image-*.deb
	cp "$dir/pkg/boot/vmlinuz-$kver" "$dir/bzImage"
	echo "$kver" >"$dir/release"
	depmod -b "$dir/pkg" "$kver"
	# modprobe resolves the load order; the initramfs insmods in that order.
	mkdir -p "$dir/mods"
	local m f i=0
	# virtio_net: the busy-polling tests' two NICs on a QEMU hub.
	for m in virtio_pci 9pnet_virtio 9p virtio_net; do
		modprobe -d "$dir/pkg" -S "$kver" --show-depends "$m"
	done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' | while read -r f; do
		i=$((i + 1))
		case "$f" in
		*.xz) xz -dc "$f" >"$dir/mods/$(printf %02d $i)-$(basename "${f%.xz}")" ;;
		*) cp "$f" "$dir/mods/$(printf %02d $i)-$(basename "$f")" ;;
		esac
	done
	rm -rf "$dir/pkg"
	log "distro kernel ready: $kver ($(ls "$dir/mods" | wc -l) modules for 9p and virtio-net)"
	touch "$dir/.done"
	echo "$dir"
}

# The few files of the kernel source that userspace tooling needs:
# kselftest_harness.h, kunit.py (the KTAP parser) and checkpatch.pl.
# Prints the selftests include folder.
ksft() {
	local ver dir
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		die "linux-source-6.1 is not installed (run scripts/deps.sh)"
	dir="$CACHE/ksrc-$ver"
	if [ ! -f "$dir/.done" ]; then
		exec 9>"$CACHE/ksrc.lock"
		flock 9
		if [ ! -f "$dir/.done" ]; then
			log "extracting kselftest, kunit and checkpatch from linux-source-6.1"
			rm -rf "$dir"
			mkdir -p "$dir"
			tar -C "$dir" -xf /usr/src/linux-source-6.1.tar.xz \
				linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
				linux-source-6.1/tools/testing/selftests/kselftest.h \
				linux-source-6.1/tools/testing/kunit \
				linux-source-6.1/scripts/checkpatch.pl \
				linux-source-6.1/scripts/spelling.txt \
				linux-source-6.1/scripts/const_structs.checkpatch
			touch "$dir/.done"
		fi
	fi
	echo "$dir/linux-source-6.1/tools/testing/selftests"
}

case "${1:-}" in
debug) debug ;;
ksft) ksft ;;
distro) distro ;;
*) die "usage: $0 debug|distro|ksft" ;;
esac
