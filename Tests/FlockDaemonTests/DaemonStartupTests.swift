import FlockDaemon
import FlockStore
import FlockTestSupport
import Foundation
import Logging
import Testing

/// What `Daemon.prepare` refuses before anything runs.
@Suite struct DaemonStartupTests {
    func config(_ scratch: Scratch, policy: String) throws -> DaemonConfig {
        try scratch.webPolicy()
        let path = try scratch.write(
            "flockd.yaml",
            """
            store: { path: flock.db }
            balancers: { lb: { kind: haproxy, socket: \(scratch.path("absent.sock")) } }
            hypervisors: { vm: { kind: memory } }
            pools:
              web: { policy: \(policy), balancer: lb, hypervisor: vm }
            """)
        return try DaemonConfigParser.load(path: path, environment: [:], kinds: .test)
    }

    @Test func storedPolicyThatIsMissingIsLocatedAtThePolicyLine() async throws {
        let scratch = try Scratch()
        let config = try config(scratch, policy: "stored")
        do {
            _ = try await Daemon.prepare(
                config: config, kinds: .test, logger: Logger(label: "t"))
            Issue.record("started without a stored policy")
        } catch {
            #expect(error.isConfigError)
            #expect(error.diagnostics.first?.line == 5)
            #expect(error.diagnostics.first?.message.contains("has no policy for pool 'web'") == true)
        }
    }

    @Test func unreachableBalancerStopsStartUpWithAClearMessage() async throws {
        let scratch = try Scratch()
        let config = try config(scratch, policy: "web.yaml")
        do {
            _ = try await Daemon.prepare(
                config: config, kinds: .test, logger: Logger(label: "t"))
            Issue.record("started without a balancer")
        } catch {
            #expect(!error.isConfigError)
            #expect(error.message.contains("pool 'web': backend 'app' on balancer 'lb' (haproxy)"), "\(error)")
        }
        // The file's policy was stored before the balancer check, as version 1 by flockd.
        let store = try FlockStore(path: scratch.path("flock.db"))
        #expect(try store.currentPolicy(pool: "web")?.appliedBy == "flockd")
    }
}
