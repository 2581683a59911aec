import FlockCore
import FlockSystem
import Foundation

/// The small JSON file (`vm.json`) in each VM's directory: enough to adopt the VM after the
/// driver restarts, and to tell parents (never destroyed) from clones.
public struct VMRecord: Sendable, Hashable, Codable {
    public var name: String
    public var pool: String
    public var role: Instance.Role
    public var lineage: Instance.Lineage
    /// The spec the VM was started from; a clone keeps its parent's, with its own name.
    public var spec: VMSpec
    /// The accelerator actually used (never `auto`); clones must use their parent's.
    public var accelerator: Accelerator
    /// Where the app answers: `127.0.0.1` and a forwarded port in user mode, the clone's IP in bridge mode.
    public var address: String?
    public var port: Int?
    public var mac: String
    public var tap: String?
    /// The VM's active disk layer: a qcow2 overlay in its directory (nil without a disk).
    public var disk: String?
    /// For parents: how many snapshots have been taken, the next clone generation.
    public var generation: Int
    public var createdAt: Date
    /// Set while the VM is a standby: restored and paused, its identity not yet given (see
    /// `QEMUDriver.activateStandby`); nil for parents, clones, and standbys once activated.
    public var standby: VMInfo.Standby?

    /// `host:port` of the app, for people and the balancer.
    public var httpAddress: String? {
        guard let address else { return nil }
        return "\(address):\(port ?? spec.guestPort)"
    }
}

/// What a listing reports about one VM.
public struct VMStatusReport: Sendable, Hashable {
    public var record: VMRecord
    public var pid: Int32?
    public var status: VMInfo.Status

    public var info: VMInfo {
        VMInfo(
            name: record.name, pool: record.pool, status: status, lineage: record.lineage, address: record.address,
            mac: record.mac, port: record.port, standby: record.standby)
    }
}

/// The frozen state clones are restored from, recorded in `snapshot.json`.
public struct SnapshotRecord: Sendable, Hashable, Codable {
    public var id: String
    public var parent: String
    public var mode: CloneMode
    public var generation: Int
    public var createdAt: Date
    /// How long the parent was paused to take it, in milliseconds.
    public var pauseMilliseconds: Double
    /// The parent's disk layer frozen at the snapshot (clones' overlays sit on it); it stays in
    /// the parent's backing chain, so it lives in the parent's directory.
    public var disk: String?
    /// What a restore needs to match (QEMU, machine, CPU); nil in snapshots older than the record.
    public var compatibility: SnapshotCompatibility?
}

extension Date {
    /// This date without its fraction of a second, as `JSONFile` writes dates (ISO 8601).
    var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

enum JSONFile {
    static func write<T: Encodable>(_ value: T, to path: String) throws(QEMUError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            let data = try encoder.encode(value)
            let temporary = path + ".tmp"
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
            else {
                throw QEMUError.io("cannot write \(temporary)")
            }
            guard rename(temporary, path) == 0 else { throw QEMUError.io("cannot rename \(temporary): \(errnoText())") }
        } catch let error as QEMUError {
            throw error
        } catch {
            throw .io("cannot encode \(path): \(error)")
        }
    }

    static func read<T: Decodable>(_ type: T.Type, from path: String) -> T? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(type, from: data)
    }
}
