import Foundation

/// Where a VM's files live: one private (0700) directory per VM under the state root.
///
/// Everything a VM owns is in its directory, so destroying it is one recursive delete of a
/// path the driver built itself, and adoption after a restart needs nothing but the directory.
public struct VMPaths: Sendable, Hashable {
    public let directory: String

    init(root: String, name: String) { directory = "\(root)/vms/\(name)" }

    /// For a helper VM that is not listed with the others (a snapshot's template).
    init(directory: String) { self.directory = directory }

    public var qmpSocket: String { "\(directory)/qmp.sock" }
    public var agentSocket: String { "\(directory)/agent.sock" }
    public var pidFile: String { "\(directory)/qemu.pid" }
    public var metadata: String { "\(directory)/vm.json" }
    public var log: String { "\(directory)/qemu.log" }
    /// The parent's RAM (a shared tmpfs file); clones never have one of their own.
    public var memory: String { "\(directory)/memory" }
}

/// A frozen snapshot of a parent: its memory (lazy) and device state, in a 0700 directory.
public struct SnapshotPaths: Sendable, Hashable {
    public let directory: String
    public let id: String

    init(root: String, id: String) {
        self.id = id
        directory = "\(root)/snapshots/\(id)"
    }

    /// For a snapshot being assembled elsewhere (an import's staging directory).
    init(directory: String, id: String) {
        self.id = id
        self.directory = directory
    }

    public var memory: String { "\(directory)/memory" }
    public var state: String { "\(directory)/state" }
    public var metadata: String { "\(directory)/snapshot.json" }
    /// An imported snapshot's parent record, as it was on the parent's host: clones there restore
    /// with its spec and accelerator (see `cloneFromImportedSnapshot`).
    public var parentRecord: String { "\(directory)/parent.json" }
}
