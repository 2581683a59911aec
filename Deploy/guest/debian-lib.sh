# Shell functions shared by the scripts that build Debian-based images from Debian packages:
# Deploy/guest/build-debian.sh, Deploy/guest/build-agent-deb.sh and Deploy/xen/build-dom0.sh.
# Sourced, not run. The caller defines log() and die() and runs as root.

# The version apt would install of a package, from the host's apt lists ("" or "(none)" if unknown).
debian_candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

# debian_fetch NAME VERSION DIR: prints the path of NAME_VERSION's .deb in DIR, downloading it
# there with `apt-get download` the first time. As root, apt would drop to the _apt user, which
# cannot write into the repository, hence the sandbox option.
debian_fetch() {
    local name=$1 want=$2 dir=$3 file
    mkdir -p "$dir"
    file=$(debian_find_deb "$name" "$want" "$dir")
    if [[ -z $file ]]; then
        (cd "$dir" && apt-get -o APT::Sandbox::User=root download "$name=$want" >&2) ||
            die "apt-get download $name=$want failed"
        file=$(debian_find_deb "$name" "$want" "$dir")
    fi
    [[ -n $file ]] || die "downloaded $name=$want but cannot find its .deb"
    echo "$file"
}

debian_find_deb() { # name version dir -> path or nothing
    find "$3" -maxdepth 1 -name "${1}_*.deb" -print | while read -r f; do
        [[ $(dpkg-deb -f "$f" Version) == "$2" ]] && echo "$f"
    done | head -1
}

# debian_debootstrap DIR HASH LOG SUITE MIRROR [OPTION...]: a debootstrapped SUITE in DIR, kept
# between builds (it is the slow part: minutes of downloads) and redone only when HASH, which the
# caller derives from the other arguments, changes. DIR.stamp holds the hash of the tree in DIR.
debian_debootstrap() {
    local dir=$1 hash=$2 logfile=$3 suite=$4 mirror=$5
    shift 5
    if [[ -d $dir && -f "$dir.stamp" && $(cat "$dir.stamp") == "$hash" ]]; then
        log "debootstrap base is up to date"
        return
    fi
    log "debootstrap $suite $* from $mirror (takes a few minutes)"
    rm -rf "$dir" "$dir.stamp"
    debootstrap "$@" "$suite" "$dir" "$mirror" >"$logfile" 2>&1 ||
        die "debootstrap failed; see $logfile (tail: $(tail -3 "$logfile" | tr '\n' ' '))"
    echo "$hash" >"$dir.stamp"
}

# debian_swift_static REPO SCRATCH PRODUCT: builds a Swift product of the package in REPO as a
# static, stripped release executable (the guest has no Swift runtime), in its own scratch path
# so the package's debug build is untouched. Prints the executable's path.
debian_swift_static() {
    local repo=$1 scratch=$2 product=$3
    log "swift build $product (release, static)"
    (cd "$repo" && swift build -c release --scratch-path "$scratch" --product "$product" \
        -Xswiftc -static-executable -Xlinker -s >&2) || die "swift build of $product failed"
    echo "$scratch/release/$product"
}
