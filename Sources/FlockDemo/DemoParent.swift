import FlockCore
import FlockQEMU
import FlockSystem
import Foundation

/// The warm parent VM: booted through the QEMU driver in a state root that flockd then opens
/// too (flockd's driver adopts it), with its cache warmed for the keys the load will ask for.
public final class DemoParent: Sendable {
    public let driver: QEMUDriver
    public let record: VMRecord
    public let stateRoot: String
    public let warmedKeys: [String]

    public var name: String { record.name }
    public var pool: String { record.pool }
    public var port: Int { record.port ?? record.spec.guestPort }
    /// Its bridge address, or the loopback its user-mode port is forwarded on.
    public var host: String { record.spec.network.mode == .bridge ? record.address ?? "127.0.0.1" : "127.0.0.1" }

    /// Boots `spec` in `stateRoot` and warms `keys` (a GET each, then checks one is a hit); a
    /// bridge-mode spec's TAPs go into `networkNamespace`.
    public init(
        spec: VMSpec, stateRoot: String, keys: [String], networkNamespace: String? = nil,
        log: @escaping @Sendable (String) -> Void
    ) async throws {
        let driver = QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: stateRoot, quitTimeout: .seconds(3), networkNamespace: networkNamespace,
                logger: LineLogHandler.logger(label: "flock.demo", log)))
        let record = try await driver.startParent(spec)
        // flockd adopts the parent next and needs the state root to itself.
        await driver.releaseStateRoot()
        self.driver = driver
        self.record = record
        self.stateRoot = stateRoot
        self.warmedKeys = keys
        do {
            try await warm()
        } catch {
            await stop()
            throw error
        }
    }

    /// One GET per key fills the caches; a second GET of the first key must be a hit: nginx's
    /// (`X-Cache-Status`) where the guest has it in front, else the app's own (`X-Cache`).
    func warm() async throws {
        for key in warmedKeys {
            let response = try await PlainHTTP.get(host: host, port: port, "/item/\(key)", timeout: .seconds(30))
            guard response.status == 200 else { throw DemoError("warming /item/\(key): HTTP \(response.status)") }
        }
        if let key = warmedKeys.first {
            let check = try await PlainHTTP.get(host: host, port: port, "/item/\(key)", timeout: .seconds(30))
            if let status = check.headers["x-cache-status"] {
                guard status == "HIT" else {
                    throw DemoError("nginx in the parent did not cache /item/\(key) (X-Cache-Status: \(status))")
                }
            } else if check.headers["x-cache"] != "hit" {
                throw DemoError(
                    "the parent's cache did not keep /item/\(key) (X-Cache: \(check.headers["x-cache"] ?? "-"))")
            }
        }
    }

    /// The clone VMs of the parent's pool that run under the state root.
    public func clones() async -> [VMInfo] {
        ((try? await driver.ownedVMs()) ?? []).filter { OwnedName.isOwned($0.name, pool: pool) }
    }

    /// Destroys every clone of the pool (flockd must be stopped first, or it may clone again).
    public func destroyClones() async {
        for vm in await clones() { try? await driver.destroy(name: vm.name) }
        await driver.releaseStateRoot()
    }

    /// Destroys the clones, then stops the parent and deletes its files.
    public func stop() async {
        await destroyClones()
        try? await driver.stopParent(name: record.name)
    }
}
