import FlockCore
import FlockStore
import Foundation

/// haproxy and flockd around a running parent: everything the demo and the end-to-end tests
/// start besides the VM. Stopping it stops flockd first (SIGTERM, so drains in flight finish),
/// then destroys the pool's clones, then kills haproxy; the parent is left to its owner.
public final class DemoStack: Sendable {
    public let directory: String
    public let parent: DemoParent
    public let haproxy: DemoHAProxy
    public let flockd: DemoFlockd
    /// Every request through the frontend, with its latency as HAProxy measured it.
    public let requestLog: RequestLog

    /// Starts haproxy with a generated config, then flockd with `policy` (placing clones on
    /// `hosts` when given); undoes the first if the second fails.
    public init(
        directory: String, parent: DemoParent, policy: DemoPolicy, flockdBinary: String,
        hosts: [DemoFlockd.Settings.Host] = []
    ) async throws {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.directory = directory
        self.parent = parent
        requestLog = try RequestLog()
        do {
            haproxy = try await DemoHAProxy(
                directory: directory, parentName: parent.name, parentHost: parent.host, parentPort: parent.port,
                requestLogPort: requestLog.port,
                serverMaxconn: policy.serverMaxconn)
        } catch {
            requestLog.stop()
            throw error
        }
        var policy = policy
        policy.parent = parent.name
        policy.pool = parent.pool
        do {
            var settings = DemoFlockd.Settings(
                directory: directory, haproxySocket: haproxy.socketPath, qemuStateRoot: parent.stateRoot,
                networkNamespace: parent.driver.configuration.networkNamespace, policy: policy, binary: flockdBinary)
            settings.hosts = hosts
            flockd = try DemoFlockd(settings: settings)
            try await flockd.start()
        } catch {
            await haproxy.stop()
            requestLog.stop()
            throw error
        }
    }

    public var frontendURL: String { "http://127.0.0.1:\(haproxy.frontendPort)" }

    /// The store flockd writes, opened alongside it (WAL and a busy timeout make that safe).
    public func store() throws -> FlockStore { try FlockStore(path: flockd.storePath) }

    /// flockd SIGTERM (bounded), the pool's clones destroyed, haproxy killed.
    public func stop() async {
        await flockd.stop(grace: .seconds(60))
        await parent.destroyClones()
        await haproxy.stop()
        requestLog.stop()
    }
}
