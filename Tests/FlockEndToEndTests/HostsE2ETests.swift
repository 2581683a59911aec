import FlockCore
import FlockDemo
import FlockHostRig
import FlockQEMU
import FlockSystem
import FlockTestSupport
import Foundation
import Synchronization
import Testing

extension EndToEnd {
    /// The built flockd placing a pool's clones on two namespace hosts over SSH, real HAProxy in
    /// front, requests flowing: one host crashes whole, later the other loses its link while
    /// flockd restarts.
    @Suite(.serialized) struct Hosts {
        /// Host h82 crashes (its sshd, sessions and VMs SIGKILLed) under load: its clone fails
        /// (HAProxy's health check or the host's `lost_after`, whichever comes first, is the
        /// cause), HAProxy drops its server, and the replacement serves on h81; the failed requests are counted and the time measured.
        /// h82 comes back empty and is up again in `/v1/hosts` and `flock_host_up`. Then h81's
        /// link goes down and flockd is restarted before its grace ends: the new flockd, which
        /// never heard from h81, fails h81's clones once the grace is over and places their
        /// replacements on h82; when the link is back, what was left on h81 is destroyed.
        @Test func aCrashedHostAndALostLinkAcrossARestartConvergeUnderLoad() async throws {
            let run = try await HostsRun()
            do {
                try await run.exercise()
            } catch {
                await run.tearDown()
                throw error
            }
            await run.tearDown()
        }
    }
}

/// The rig, the bridged parent and the stack of `aCrashedHostAndALostLinkAcrossARestartConvergeUnderLoad`.
private final class HostsRun: Sendable {
    let rig = DemoHosts()
    let hosts: [NamespaceHost]
    let parent: DemoParent
    let stack: DemoStack
    let directory: String

    init() async throws {
        guard let flockd = Repo.flockd, let flockctl = BuiltBinary.url("flockctl")?.path else {
            throw DemoError("flockd and flockctl are not built (swift build --build-tests)")
        }
        let rig = self.rig
        do {
            let parentNet = try await rig.rig.makeParentNetwork()
            let entries = try await rig.create(indexes: [81, 82], flockctl: flockctl)
            hosts = rig.hosts
            let root = try tmpfsScratch("hosts-vms")
            ExitCleanup.register(root)
            var spec = VMSpec(
                name: "e2eh-parent", pool: "e2eh", kernel: Repo.path(".build-guest/vmlinuz"),
                initrd: Repo.path(".build-guest/initrd.img"), append: "console=ttyS0 quiet flock.ip=none",
                memoryMiB: 256, cpus: 1, accelerator: .tcg)
            spec.network = parentNet.network
            parent = try await DemoParent(
                spec: spec, stateRoot: root, keys: LoadPlan.defaultKeys, networkNamespace: parentNet.namespace,
                log: { _ in })
            directory = try tmpfsScratch("hosts-run")
            var policy = E2E.faultPolicy
            policy.maxCapacity = 3
            stack = try await DemoStack(
                directory: directory, parent: parent, policy: policy, flockdBinary: flockd, hosts: entries)
        } catch {
            await rig.destroy()
            throw error
        }
    }

    var flockd: DemoFlockd { stack.flockd }
    var pool: String { parent.pool }

    func tearDown() async {
        await stack.stop()
        await parent.stop()
        await rig.destroy()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func exercise() async throws {
        let (h81, h82) = (hosts[0], hosts[1])
        let scaled = try await flockd.setDesired(3)
        #expect(scaled.status == 200)
        let spread = try #require(await servingSpread(["h81": 1, "h82": 1]), "two clones never served, one per host")

        // h82 crashes while requests flow through HAProxy.
        let load = Load(port: stack.haproxy.frontendPort)
        try await Task.sleep(for: .seconds(1))
        let victim = try #require(spread.first { $0.value == "h82" }?.key)
        await h82.crash()
        let crashed = ContinuousClock.now
        let replaced = await servingSpread(["h81": 2], timeout: .seconds(90))
        let took = ContinuousClock.now - crashed
        let report = await load.finish()
        let afterCrash = await picture()
        #expect(replaced != nil, "h82's clone was never replaced on h81: \(afterCrash)")
        // Failed by whichever notices first: HAProxy's health check (down for a while) or the
        // host's silence past its grace.
        let failure = try stack.store().instance(named: victim)?.failure ?? "-"
        #expect(
            failure.hasPrefix("host h82 lost: no answer for ") || failure.contains("its health check fails"),
            "\(victim): \(failure)")
        #expect(try await servers() == Set(replaced?.keys.map { $0 } ?? []), "HAProxy serves exactly the clones")
        print(
            "hosts e2e: h82 crashed under load; its clone replaced on h81 and serving after "
                + String(format: "%.1f s, ", took.seconds)
                + "lost_after 5s; \(report)")
        // HAProxy's health checks (1 s apart, down after 3) route a few requests to the dead
        // clone first; most of them it retries on another server.
        #expect(report.requests >= 20 && report.failed <= report.requests / 5, "\(report)")
        let lostStatus = try await hostStatus("h82") ?? [:]
        #expect(lostStatus["lost"] is String, "\(lostStatus)")
        #expect(try await metric("flock_host_up{pool=\"\(pool)\",host=\"h82\"}") == 0)

        // h82 comes back (empty: its private tmpfs went with it) and answers again.
        try await rig.restart(h82)
        let back = await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(500)) {
            let status = try await self.hostStatus("h82")
            return status?["reachable"] as? Bool == true && status?["lost"] == nil
        }
        let backStatus = try await hostStatus("h82") ?? [:]
        #expect(back, "h82 never answered again: \(backStatus)")
        #expect(try await metric("flock_host_up{pool=\"\(pool)\",host=\"h82\"}") == 1)

        // h81's link goes down and flockd restarts before the grace is over: the new flockd has
        // never heard from h81, waits the grace out, then replaces h81's clones on h82.
        let onH81 = Set(replaced?.keys.map { $0 } ?? [])
        try await RigTool.run("ip", ["link", "set", h81.rootSide, "down"])
        let cut = ContinuousClock.now
        await flockd.stop(grace: .seconds(30))
        try await flockd.start()
        let moved = await servingSpread(["h82": 2], timeout: .seconds(90))
        let afterRestart = await picture()
        let failing = flockd.log.split(separator: "\n").filter { $0.contains("fail") }.suffix(12)
        #expect(
            moved != nil,
            "h81's clones were never replaced on h82 after the restart: \(afterRestart); flockd: \(failing)")
        print(
            "hosts e2e: h81 cut and flockd restarted; its clones replaced on h82 after "
                + String(format: "%.1f s", (ContinuousClock.now - cut).seconds))
        for name in onH81 {
            let failure = try stack.store().instance(named: name)?.failure ?? "-"
            #expect(failure.contains("host h81 lost"), "\(name): \(failure)")
        }

        // The link is back: the clones left running on h81 are orphans there, and are destroyed.
        try await RigTool.run("ip", ["link", "set", h81.rootSide, "up"])
        let cleaned = await eventuallyRetryingErrors(timeout: .seconds(120), every: .seconds(1)) {
            let files = try await RigTool.run("nsenter", ["-t", "\(h81.sshd?.pid ?? 0)", "-m", "find", h81.stateRoot])
            return !files.contains("/vms/flock-") && !files.contains("/snapshots/")
        }
        #expect(cleaned, "what was left on h81 was not reconciled")
        #expect(await servingSpread(["h82": 2], timeout: .seconds(10)) != nil, "the pool stays converged")
    }

    /// Waits until the store's clones are all serving, spread over hosts as `expected` (by their
    /// subnets), and HAProxy has them UP; returns clone → host, nil on timeout.
    func servingSpread(_ expected: [String: Int], timeout: Duration = .seconds(120)) async -> [String: String]? {
        var found: [String: String]?
        _ = await eventuallyRetryingErrors(timeout: timeout, every: .milliseconds(250)) {
            let clones = try self.stack.store().instances(pool: self.pool).filter { $0.role == .clone }
            guard clones.allSatisfy({ $0.state == .serving }) else { return false }
            var homes: [String: String] = [:]
            for clone in clones {
                guard let address = clone.address,
                    let host = self.hosts.first(where: { address.hasPrefix("10.232.\($0.index).") })
                else { return false }
                homes[clone.name] = "h\(host.index)"
            }
            var counts: [String: Int] = [:]
            for host in homes.values { counts[host, default: 0] += 1 }
            guard counts == expected, try await self.servers(up: true) == Set(homes.keys) else { return false }
            found = homes
            return true
        }
        return found
    }

    /// The backend's `flock-` servers (only those UP, with `up`).
    func servers(up: Bool = false) async throws -> Set<String> {
        let haproxy = stack.haproxy
        let rows = try await haproxy.client.showStat(backend: haproxy.backend).servers(of: haproxy.backend)
        return Set(
            rows.filter { $0.server.hasPrefix(OwnedName.prefix) && (!up || ($0["status"] ?? "").hasPrefix("UP")) }
                .map(\.server))
    }

    /// One host's entry in flockd's `GET /v1/hosts`.
    func hostStatus(_ name: String) async throws -> [String: Any]? {
        let response = try await PlainHTTP.get(port: flockd.port, "/v1/hosts", timeout: .seconds(10))
        return (response.json?["hosts"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    /// A sample's value in flockd's `/metrics`.
    func metric(_ series: String) async throws -> Double? {
        let text = try await PlainHTTP.get(port: flockd.port, "/metrics", timeout: .seconds(10)).text
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// The store's clones, the distinct causes of those that failed, and HAProxy's servers.
    func picture() async -> String {
        let clones = (try? stack.store().instances(pool: pool).filter { $0.role == .clone }) ?? []
        let listed = clones.map { "\($0.name)=\($0.state.rawValue)@\($0.address ?? "-")" }
        let causes = Set(clones.compactMap(\.failure)).sorted()
        return "store \(listed); failures \(causes); haproxy \((try? await servers().sorted()) ?? [])"
    }
}

/// Requests through HAProxy one after another (bounded: 3 minutes), counting those that failed.
private final class Load: Sendable {
    struct Report: Sendable, CustomStringConvertible {
        var requests = 0
        var failed = 0
        var description: String { "\(requests) requests through HAProxy, \(failed) failed" }
    }

    private final class Shared: Sendable {
        let report = Mutex(Report())
        let stopping = Atomic(false)
    }

    private let shared = Shared()
    private let task: Task<Void, Never>

    init(port: Int) {
        let shared = self.shared
        let deadline = ContinuousClock.now + .seconds(180)
        task = Task {
            while !shared.stopping.load(ordering: .relaxed), ContinuousClock.now < deadline {
                let ok = (try? await PlainHTTP.get(port: port, "/item/k1", timeout: .seconds(5)))?.status == 200
                shared.report.withLock {
                    $0.requests += 1
                    if !ok { $0.failed += 1 }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func finish() async -> Report {
        shared.stopping.store(true, ordering: .relaxed)
        await task.value
        return shared.report.withLock { $0 }
    }
}
