import FlockCore
import Foundation

/// What the driver remembers about a domain it started, kept in xenstore (`XenIdentityKeys.record`)
/// so that it lives and dies with the domain and any process (flockd, flockctl, a restarted
/// daemon) sees the same thing.
public struct XenDomainRecord: Sendable, Hashable, Codable {
    public var name: String
    public var pool: String
    public var role: Instance.Role
    public var lineage: Instance.Lineage
    /// The spec the domain runs: a clone's is its parent's with its own name, MAC and address.
    public var spec: XenVMSpec
    /// For parents: how many checkpoints were taken, the next clone generation.
    public var generation: Int
    public var createdAt: Date

    /// `address:port` of the app.
    public var httpAddress: String { "\(spec.address):\(spec.guestPort)" }

    /// The identity the domain gets: fresh entropy and clock, its name as clone id and hostname,
    /// its generation, and its own MAC and address on its parent's subnet.
    func freshIdentity() -> CloneIdentity {
        CloneIdentity.fresh(
            cloneID: name, generation: lineage.generation,
            network: CloneIdentity.Network(
                mac: spec.mac ?? "", address: spec.address, prefix: spec.prefix, gateway: spec.effectiveGateway ?? ""))
    }

    var encoded: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)) ?? Data()
    }

    static func decode(_ data: Data) -> XenDomainRecord? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(XenDomainRecord.self, from: data)
    }
}

/// One Flock domain as a listing reports it.
public struct XenDomainReport: Sendable, Hashable {
    public var record: XenDomainRecord
    public var domid: UInt32
    public var status: VMInfo.Status
    /// Shut down for a suspend (a checkpoint that did not get to resume it): resumable, not dead.
    public var suspended = false

    public var info: VMInfo {
        VMInfo(
            name: record.name, pool: record.pool, status: status, lineage: record.lineage,
            address: record.spec.address, mac: record.spec.mac, port: record.spec.guestPort)
    }
}
