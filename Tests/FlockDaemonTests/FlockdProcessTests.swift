import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

/// The built `flockd` as operators run it: config checks, start-up refusal, and SIGTERM.
@Suite(.serialized) struct FlockdProcessTests {
    func flockd() throws -> URL {
        try #require(BuiltBinary.url("flockd"), "flockd not built next to the test runner nor in .build/debug")
    }

    @Test func checkConfigAcceptsTheShippedExample() async throws {
        let scratch = try Scratch()
        let result = try await Child.run(
            try flockd(), ["--check-config", Repo.path("Deploy/flockd.yaml")], in: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("valid; 1 pool(s): web"))
    }

    @Test func checkConfigRejectsABadFileWithLocatedErrors() async throws {
        let scratch = try Scratch()
        try scratch.webPolicy()
        let path = try scratch.write(
            "bad.yaml",
            """
            listen: 127.0.0.1:9464
            balancers: { lb: { kind: haproxy, socket: /run/haproxy/admin.sock } }
            hypervisors: { vm: { kind: qemu, state_root: relative } }
            pools: { web: { policy: web.yaml, balancer: lb, hypervisor: vm, colour: red } }
            """)
        let result = try await Child.run(try flockd(), ["--check-config", path], in: scratch)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.contains("\(path):3:46: error: hypervisors.vm.state_root: must be an absolute path"),
            "\(result.stderr)")
        #expect(result.stderr.contains("\(path):4:65: error: unknown key 'colour' in pools.web"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        #expect(!result.stderr.contains("Stack dump"))

        // The same file given to --config refuses to start the same way.
        let start = try await Child.run(try flockd(), ["--config", path], in: scratch)
        #expect(start.status == 1)
        #expect(start.stderr.contains("flockd: not starting: fix the config above"))
    }

    @Test func aWarmStandbysSettingThatIsNotABooleanIsLocated() async throws {
        let scratch = try Scratch()
        try scratch.webPolicy()
        let path = try scratch.write(
            "warm.yaml",
            """
            balancers: { lb: { kind: haproxy, socket: /run/haproxy/admin.sock } }
            hypervisors: { vm: { kind: qemu, state_root: /run/flock/qemu, warm_standbys: sometimes } }
            pools: { web: { policy: web.yaml, balancer: lb, hypervisor: vm } }
            """)
        let result = try await Child.run(try flockd(), ["--check-config", path], in: scratch)
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("\(path):2:"),
            "\(result.stderr)")
        #expect(
            result.stderr.contains("hypervisors.vm.warm_standbys: must be true or false; got 'sometimes'"),
            "\(result.stderr)")
        let fixed = try scratch.write(
            "warm-ok.yaml",
            try String(contentsOfFile: path, encoding: .utf8)
                .replacingOccurrences(of: "sometimes", with: "true"))
        let valid = try await Child.run(try flockd(), ["--check-config", fixed], in: scratch)
        #expect(valid.status == 0, "\(valid.stderr)")
    }

    @Test func usageErrorsExitTwoWithAHint() async throws {
        let scratch = try Scratch()
        let result = try await Child.run(try flockd(), [], environment: ["FLOCKD_CONFIG": ""], in: scratch)
        #expect(result.status == 2)
        #expect(result.stderr.contains("hint: run 'flockd --help' for usage"))
    }

    @Test func sigtermStopsGracefullyWithAConsistentStore() async throws {
        let scratch = try Scratch()
        let haproxy = try await TestHAProxy(in: scratch)
        let config = try scratch.daemonConfig(haproxy: haproxy)
        let port = try freeLoopbackPort()
        let daemon = try await Child.start(
            try flockd(), ["--config", config], environment: ["FLOCKD_LISTEN": "127.0.0.1:\(port)"], in: scratch,
            name: "flockd")

        let healthy = await eventually {
            (try? await HTTP.request("GET", port: port, "/healthz"))?.status == 200
        }
        #expect(healthy, "flockd did not answer /healthz: \(daemon.stderr)")
        let store = try FlockStore(path: scratch.path("state/flock.db"))
        #expect(try await eventually { try store.decisions(pool: "web", since: .distantPast).count >= 2 })

        daemon.signal(SIGTERM)
        let status = await daemon.waitForExit()
        #expect(status == 0, "\(daemon.stderr)")
        #expect(try store.openIntents(pool: nil).isEmpty)
        let instances = try store.instances(pool: "web")
        #expect(instances.map(\.name) == ["web-parent"])
        #expect(instances.first?.state == .serving)
        #expect(try store.currentPolicy(pool: "web")?.appliedBy == "flockd")
        // JSON log lines, one object each, ending with the stop.
        let lines = daemon.stderr.split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") }, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("\"message\":\"flockd stopped\""))
        withExtendedLifetime(haproxy) {}
    }

    @Test func aSecondFlockdOnTheSameStoreExitsAtOnceNamingTheHolder() async throws {
        let scratch = try Scratch()
        let haproxy = try await TestHAProxy(in: scratch)
        let config = try scratch.daemonConfig(haproxy: haproxy)
        let port = try freeLoopbackPort()
        let first = try await Child.start(
            try flockd(), ["--config", config], environment: ["FLOCKD_LISTEN": "127.0.0.1:\(port)"], in: scratch,
            name: "flockd-first")
        let healthy = await eventually { (try? await HTTP.request("GET", port: port, "/healthz"))?.status == 200 }
        #expect(healthy, "the first flockd did not answer /healthz: \(first.stderr)")

        // The second differs only in its port: the store (and so its lock) is the same.
        let started = ContinuousClock.now
        let second = try await Child.run(
            try flockd(), ["--config", config],
            environment: ["FLOCKD_LISTEN": "127.0.0.1:\(try freeLoopbackPort())"], in: scratch, timeout: .seconds(20))
        let took = ContinuousClock.now - started
        #expect(second.status == 1, "\(second)")
        // A second, plus what starting a debug binary on a busy 2-core machine costs.
        #expect(took < .seconds(3), "the second flockd took \(took) to refuse")
        let lock = scratch.path("state/flock.db.lock")
        #expect(
            second.stderr.contains(
                "the store \(scratch.path("state/flock.db")) is in use: \(lock) is locked by process \(first.process.pid)"
            ),
            "\(second.stderr)")
        #expect(!second.stderr.contains("Stack dump") && !second.stderr.contains("Fatal error"))
        #expect(!second.stderr.contains("backend checked"), "the second flockd reached the drivers: \(second.stderr)")

        // The first is untouched: it still serves and still decides.
        #expect((try await HTTP.request("GET", port: port, "/healthz")).status == 200)
        let store = try FlockStore(path: scratch.path("state/flock.db"))
        let before = try store.decisions(pool: "web", since: .distantPast).count
        #expect(try await eventually { try store.decisions(pool: "web", since: .distantPast).count > before })
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0, "\(first.stderr)")
        withExtendedLifetime(haproxy) {}
    }

    @Test func refusesToStartOnABackendThatCannotTakeServers() async throws {
        let scratch = try Scratch()
        let haproxy = try await TestHAProxy(in: scratch)
        let config = try scratch.daemonConfig(haproxy: haproxy, backend: "fixed")
        let result = try await Child.run(
            try flockd(), ["--config", config], environment: ["FLOCKD_LISTEN": "127.0.0.1:\(try freeLoopbackPort())"],
            in: scratch)
        #expect(result.status == 1)
        #expect(result.stderr.contains("backend 'fixed' on balancer"), "\(result.stderr)")
        #expect(result.stderr.contains("static-rr"), "\(result.stderr)")
        withExtendedLifetime(haproxy) {}
    }
}
