import FlockCore
import FlockDaemon
import FlockTestSupport
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A pool with `placement:` gets its hypervisor through the build's placement factory at
/// start-up, with the hosts it names; a placement that cannot be opened stops the daemon.
@Suite struct PlacementStartupTests {
    func config(_ scratch: Scratch) throws -> String {
        try scratch.webPolicy()
        try scratch.write("known_hosts", "10.231.1.2 ssh-ed25519 AAAA\n")
        chmod(try scratch.write("id", "key\n"), 0o600)
        return try scratch.write(
            "flockd.yaml",
            """
            store: { path: state/flock.db }
            balancers:
              lb: { kind: fake, backends: app }
            hypervisors:
              vm: { kind: memory }
            hosts:
              b1: { ssh: root@10.231.1.2, identity_file: id, known_hosts: known_hosts, state_root: /run/flock/host, bridge: flkbr0, cidr: 10.232.1.0/24 }
              b2: { ssh: root@10.231.2.2, identity_file: id, known_hosts: known_hosts, state_root: /run/flock/host, bridge: flkbr0, cidr: 10.232.2.0/24 }
            pools:
              web:
                policy: web.yaml
                balancer: lb
                hypervisor: vm
                metrics: { kind: prometheus, url: http://127.0.0.1:1/m, preset: haproxy }
                placement: { hosts: [local, b2] }
            """)
    }

    @Test func thePoolsHypervisorComesFromThePlacementFactory() async throws {
        let scratch = try Scratch()
        let factory = RecordingPlacement()
        let kinds = DriverKinds(
            hypervisors: DriverKindsTests.kinds.hypervisors, balancers: DriverKindsTests.kinds.balancers,
            metrics: DriverKindsTests.kinds.metrics, placement: factory)
        let config = try DaemonConfigParser.load(path: try config(scratch), environment: [:], kinds: kinds)
        _ = try await Daemon.prepare(config: config, kinds: kinds, logger: Logger(label: "t"))
        let calls = factory.calls.withLock { $0 }
        #expect(calls.count == 1)
        #expect(calls.first?.pool == "web" && calls.first?.placement == ["local", "b2"])
        #expect(calls.first?.hosts == ["b2"], "only the placement's hosts, 'local' aside")
        #expect(calls.first?.logDirectory == scratch.path("state"))
    }

    @Test func aPlacementThatCannotBeOpenedStopsStartUp() async throws {
        let scratch = try Scratch()
        let kinds = DriverKinds(
            hypervisors: DriverKindsTests.kinds.hypervisors, balancers: DriverKindsTests.kinds.balancers,
            metrics: DriverKindsTests.kinds.metrics, placement: RecordingPlacement(failure: "no qemu driver"))
        let config = try DaemonConfigParser.load(path: try config(scratch), environment: [:], kinds: kinds)
        do {
            _ = try await Daemon.prepare(config: config, kinds: kinds, logger: Logger(label: "t"))
            Issue.record("started with a placement that failed")
        } catch {
            #expect(error.message == "pool 'web': its placement cannot be used: no qemu driver", "\(error.message)")
        }
    }
}

/// Records what start-up asked of it and hands the hypervisor back, or fails.
final class RecordingPlacement: PlacementFactory {
    struct Call: Sendable {
        var pool: String
        var placement: [String]
        var hosts: [String]
        var logDirectory: String
    }
    let hypervisorKinds = ["memory"]
    let failure: String?
    let calls = Mutex<[Call]>([])

    init(failure: String? = nil) { self.failure = failure }

    func place(
        _ hypervisor: any Hypervisor, pool: String, placement: DaemonConfig.PlacementConfig,
        hosts: [DaemonConfig.HostConfig], logDirectory: String, logger: Logger
    ) async throws -> any Hypervisor {
        if let failure { throw FlockError.conflict(failure) }
        calls.withLock {
            $0.append(
                Call(pool: pool, placement: placement.hosts, hosts: hosts.map(\.name), logDirectory: logDirectory))
        }
        return hypervisor
    }
}
