import Foundation
import Logging

/// Where the QEMU driver keeps its files and how patient it is.
public struct QEMUDriverConfiguration: Sendable {
    /// Holds `vms/<name>/` and `snapshots/<id>/`. Put it on tmpfs: parents' RAM and lazy
    /// snapshots live here, and tmpfs makes freezing them a memory copy, not disk I/O.
    public var stateRoot: String
    /// The QEMU binary, looked up in `PATH` unless absolute.
    public var qemu: String
    /// A snapshot younger than this is reused for the next batch instead of pausing the parent
    /// again; zero takes a fresh snapshot for every batch (the warmest caches).
    public var snapshotMaxAge: Duration
    /// How long `quit` may take before the VM is killed.
    public var quitTimeout: Duration
    /// How long a cold boot may take to serve (the agent says its app is up).
    public var bootTimeout: Duration
    /// How long a migration (snapshot or restore) may take.
    public var migrationTimeout: Duration
    /// How long the agent may take to answer hello or acknowledge an identity.
    public var agentTimeout: Duration
    /// How a lazy snapshot freezes the parent's memory; see `LazyFreeze`.
    public var lazyFreeze: LazyFreeze
    /// A network namespace (`ip netns`) to run QEMU and create TAPs in, for bridge mode; nil
    /// for the driver's own namespace. Keeps a pool's bridge, TAPs and clones off the host's
    /// network (and lets tests build a throwaway network).
    public var networkNamespace: String?
    /// QEMU's `-cpu` for every VM; nil for `host` under KVM and `max` under TCG. Snapshots record
    /// it, and a host whose model differs refuses their clones (see `SnapshotCompatibility`).
    public var cpuModel: String?
    /// Run each new standby once through an identity of its own before pausing it again.
    ///
    /// Under TCG, most of a cold standby's activation (about 200 ms here) is QEMU translating
    /// the guest code of the identity path afresh, since the translation cache lives in each
    /// QEMU process, not in the snapshot. A warmed standby has translated it, so its activation
    /// (a fresh identity: new entropy, the clock stepped again) acks in about 15 ms. The price
    /// is memory: the guest pages the run touched and the translated code, about 40 MB more PSS
    /// per standby (README, "Standby activations"). Off by default: a standby then never runs
    /// before its activation. Under KVM there is nothing to translate.
    public var warmStandbys: Bool
    /// Where progress (the parent's pause, clones ready) and warnings (accelerator fallback, a VM
    /// killed after `quit`) go.
    public var logger: Logger

    public init(
        stateRoot: String = QEMUDriverConfiguration.defaultStateRoot, qemu: String = "qemu-system-x86_64",
        snapshotMaxAge: Duration = .seconds(15), quitTimeout: Duration = .seconds(5),
        bootTimeout: Duration = .seconds(120),
        migrationTimeout: Duration = .seconds(120), agentTimeout: Duration = .seconds(30),
        lazyFreeze: LazyFreeze = .copyWhilePaused,
        networkNamespace: String? = nil, cpuModel: String? = nil, warmStandbys: Bool = false,
        logger: Logger = Logger(label: "flock.qemu")
    ) {
        self.stateRoot = stateRoot
        self.qemu = qemu
        self.snapshotMaxAge = snapshotMaxAge
        self.quitTimeout = quitTimeout
        self.bootTimeout = bootTimeout
        self.migrationTimeout = migrationTimeout
        self.agentTimeout = agentTimeout
        self.networkNamespace = networkNamespace
        self.lazyFreeze = lazyFreeze
        self.cpuModel = cpuModel
        self.warmStandbys = warmStandbys
        self.logger = logger
    }

    /// `$FLOCK_QEMU_STATE` if set; else `/run/flock/qemu` for root (tmpfs on Debian) and
    /// `/dev/shm/flock-qemu-<uid>` for others.
    ///
    /// The `/dev/shm` path is predictable, so another user could create it first; the driver
    /// refuses a root that is a link, is someone else's or is open to others (see
    /// `createPrivateDirectory`), which turns that into a clear refusal instead of a leak.
    /// `$XDG_RUNTIME_DIR` would be private too, but is often capped at a tenth of RAM: too small
    /// for parents' RAM files.
    public static var defaultStateRoot: String {
        if let value = ProcessInfo.processInfo.environment["FLOCK_QEMU_STATE"], !value.isEmpty { return value }
        return getuid() == 0 ? "/run/flock/qemu" : "/dev/shm/flock-qemu-\(getuid())"
    }

    /// Paths end up inside QEMU option strings (`mem-path=…,share=on`) and in the `exec:`
    /// migration command, so only characters that need no quoting anywhere are allowed.
    static func isSafePath(_ path: String) -> Bool {
        path.hasPrefix("/")
            && path.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "/._-".unicodeScalars.contains($0)
            }
    }
}

/// How a lazy snapshot gets its immutable copy of the parent's RAM: a trade between the
/// parent's pause and the time to the first clone.
public enum LazyFreeze: String, Sendable, Hashable, CaseIterable {
    /// Pause the parent and copy the data extents of its RAM file (in-kernel `copy_file_range`).
    /// The pause grows with the memory the guest has touched (~0.1 s for 256 MiB on tmpfs);
    /// clones start right after.
    case copyWhilePaused = "copy"
    /// Live-migrate the parent into a paused template QEMU whose RAM is the snapshot file, then
    /// save the template's device state. The parent pauses only for migration's final
    /// stop-and-copy (tens of ms), but the snapshot takes a migration longer. Parents with a
    /// disk fall back to `copyWhilePaused`.
    case liveTemplate = "template"
}
