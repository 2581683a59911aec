import FlockCore
import FlockQEMU
import Foundation

/// The host session's protocol: one JSON request a line on the session's stdin, one JSON answer
/// a line on its stdout, matched by `id`. Every argument travels here, never on the remote
/// command line, which stays fixed (`flockctl host serve --state DIR`) so that an operator can
/// pin it with sshd's `ForceCommand` or `command=` in `authorized_keys`.
///
/// Requests are idempotent by name: a repeated `clone` of a name that exists returns it, a
/// repeated `destroy` of a gone one succeeds, a `snapshot-receive` of a held snapshot moves nothing.
public enum HostProtocol {
    /// Bumped when a request or answer changes meaning; `hello` reports it and the client refuses
    /// a host that speaks another.
    public static let version = 2  // 2: the kernel and initrd no longer travel; disks do

    /// The operations a host serves.
    public enum Op: String, Sendable, Codable, CaseIterable {
        case hello, list, clone, destroy
        case snapshotHas = "snapshot-has"
        case snapshotReceive = "snapshot-receive"
        case snapshotRelease = "snapshot-release"
    }
}

/// One request. Fields are per operation; the host says which one is missing.
public struct HostRequest: Sendable, Codable {
    public var id: Int
    public var op: String
    /// How long the client waits for the answer; the host gives up on the operation after it too.
    public var deadlineMs: Int?
    /// `clone`, `snapshot-has`, `snapshot-release`: the snapshot's id.
    public var snapshot: String?
    /// `clone`: the pool, the clones' names, and this host's VM network (bridge and subnet).
    public var pool: String?
    public var names: [String]?
    public var network: NetworkSpec?
    /// `destroy`: the clone.
    public var name: String?
    /// `snapshot-receive`: what follows the line as raw bytes.
    public var manifest: SnapshotManifest?

    public init(id: Int, op: HostProtocol.Op, deadline: Duration) {
        self.id = id
        self.op = op.rawValue
        let (seconds, attoseconds) = deadline.components
        deadlineMs = Int(clamping: seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// One answer: `ok` with the operation's fields, or `error` saying what was wrong.
public struct HostAnswer: Sendable, Codable {
    /// The request's id; nil when the line was not a request at all (or the session cannot start).
    public var id: Int?
    public var ok: Bool
    public var error: String?
    public var hello: HostHello?
    public var vms: [RemoteVM]?
    /// `clone`: the clones that run (new or already there) and those that failed, with why.
    public var started: [RemoteVM]?
    public var failed: [String: String]?
    /// `snapshot-has`: whether this host holds the snapshot, complete.
    public var held: Bool?
    /// `snapshot-receive`: `ready` (send the bytes) or `held` (send nothing) before the data; the
    /// final answer carries `received`.
    public var phase: String?
    /// With `ready`: the files not to send, because the host holds them already (a disk's image,
    /// kept by digest).
    public var skip: [String]?
    public var received: ReceiveReport?

    public init(id: Int?, ok: Bool, error: String? = nil) {
        self.id = id
        self.ok = ok
        self.error = error
    }

    static func failure(_ id: Int?, _ message: String) -> HostAnswer { HostAnswer(id: id, ok: false, error: message) }
}

/// What a host says about itself, for placement: its QEMU, its room and what Flock has there.
public struct HostHello: Sendable, Codable, Hashable {
    public var protocolVersion: Int
    /// The state root this session serves, resolved.
    public var stateRoot: String
    public var qemuVersion: String
    /// The machine types this QEMU knows, each with what it is an alias of.
    public var machines: [String: String]
    /// The `-cpu` its VMs use; `default` for QEMU's per-accelerator default (`host`/`max`).
    public var cpuModel: String
    public var memAvailableBytes: Int
    public var cores: Int
    /// The 1, 5 and 15 minute load averages.
    public var loadAverage: [Double]
    public var vms: [RemoteVM]
    /// Ids of the snapshots it holds.
    public var snapshots: [String]
}

/// A VM on a host, as the protocol carries it.
public struct RemoteVM: Sendable, Codable, Hashable {
    public var name: String
    public var pool: String
    public var status: String
    public var lineage: Instance.Lineage
    public var address: String?
    public var mac: String?
    public var port: Int?

    public init(_ info: VMInfo) {
        name = info.name
        pool = info.pool
        status = info.status.rawValue
        lineage = info.lineage
        address = info.address
        mac = info.mac
        port = info.port
    }
}

/// What a `snapshot-receive` moved.
public struct ReceiveReport: Sendable, Codable, Hashable {
    /// Data bytes received (the files' data extents, never their holes).
    public var bytes: Int
    public var seconds: Double
}

/// A snapshot in transit: its records, then, per file, its size and data extents. The bytes of
/// the extents follow the request line, file after file, extent after extent, each file closed by
/// the SHA-256 of its bytes.
///
/// The parent's kernel and initrd do not travel: a clone restored from a migration stream never
/// boots, and QEMU gets no `-kernel` for it (`QEMUCommandLine`), so the host needs nothing
/// installed but flockctl and QEMU, and reads no path the client names.
public struct SnapshotManifest: Sendable, Codable {
    public var record: SnapshotRecord
    public var parent: VMRecord
    public var files: [File]
    public struct File: Sendable, Codable, Hashable {
        /// `memory` or `state` (see `QEMUDriver.shippedFiles`), and with a disk its layers and
        /// image (`QEMUDriver.layerFile`, `QEMUDriver.imageFile`); nothing else is written.
        public var name: String
        /// The file's apparent size; holes are recreated on the host.
        public var size: Int
        /// The image's SHA-256 (hex, of the whole file, as `sha256sum` prints it): its address
        /// on the host, which keeps one copy for every snapshot on it.
        public var sha256: String? = nil
        /// Its data. On the wire the bytes of the extents are followed by their SHA-256, checked
        /// before the file is kept.
        public var extents: [Extent]

        /// Bytes of data that travel for this file.
        public var dataBytes: Int { extents.reduce(0) { $0 + $1.length } }
    }

    public struct Extent: Sendable, Codable, Hashable {
        public var offset: Int
        public var length: Int
    }

    public var dataBytes: Int { files.reduce(0) { $0 + $1.dataBytes } }
}

enum HostJSON {
    static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Encoding our own value types cannot fail; an empty object would be refused by the peer.
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: data)
    }
}
