import FlockCore
import FlockTesting
import Foundation
import Testing

@Suite struct InMemoryBalancerTests {
    static func registration(
        _ name: String = "flock-web-1", address: String = "10.0.1.2", port: Int = 8080
    )
        -> ServerRegistration
    {
        ServerRegistration(backend: "web", name: name, address: address, port: port)
    }

    @Test func registerIsIdempotentAtTheSameAddress() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        try await balancer.register(Self.registration())
        try await balancer.register(Self.registration())
        let servers = try await balancer.servers(backend: "web")
        #expect(servers == [BalancerServer(name: "flock-web-1", address: "10.0.1.2", port: 8080, status: .up)])
    }

    @Test(arguments: [("10.0.1.3", 8080), ("10.0.1.2", 9090)])
    func registerConflictsAtAnotherAddress(address: String, port: Int) async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        try await balancer.register(Self.registration())
        let error = await #expect(throws: FlockError.self) {
            try await balancer.register(Self.registration(address: address, port: port))
        }
        #expect(error?.isConflict == true)
        let servers = try await balancer.servers(backend: "web")
        #expect(servers.map(\.address) == ["10.0.1.2"])
        #expect(servers.map(\.port) == [8080])
    }

    @Test func unknownBackendIsNotFound() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        let calls: [@Sendable () async throws -> Void] = [
            {
                try await balancer.register(
                    ServerRegistration(backend: "api", name: "flock-api-1", address: "a", port: 1))
            },
            { _ = try await balancer.servers(backend: "api") },
            { try await balancer.remove(backend: "api", server: "flock-api-1") },
            { _ = try await balancer.drain(backend: "api", server: "flock-api-1", timeout: .seconds(1)) },
            { _ = try await balancer.drain(backend: "web", server: "flock-web-9", timeout: .seconds(1)) },
        ]
        for call in calls {
            do {
                try await call()
                Issue.record("call on a missing backend or server succeeded")
            } catch let error as FlockError {
                #expect(error.isNotFound, "\(error)")
            }
        }
    }

    @Test func drainReportsDrainedAtZeroSessions() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        try await balancer.register(Self.registration())
        let outcome = try await balancer.drain(backend: "web", server: "flock-web-1", timeout: .seconds(30))
        #expect(outcome == .drained)
        #expect(try await balancer.servers(backend: "web").first?.status == .draining)
    }

    @Test func drainTimesOutWithOpenSessions() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        try await balancer.register(Self.registration())
        await balancer.setSessions(3, backend: "web", server: "flock-web-1")
        let outcome = try await balancer.drain(backend: "web", server: "flock-web-1", timeout: .seconds(30))
        #expect(outcome == .timedOut(sessions: 3))
        await balancer.setSessions(0, backend: "web", server: "flock-web-1")
        #expect(try await balancer.drain(backend: "web", server: "flock-web-1", timeout: .seconds(30)) == .drained)
    }

    @Test func removeIsIdempotent() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        try await balancer.register(Self.registration())
        try await balancer.register(Self.registration("flock-web-2", address: "10.0.1.3"))
        try await balancer.remove(backend: "web", server: "flock-web-1")
        try await balancer.remove(backend: "web", server: "flock-web-1")
        #expect(try await balancer.servers(backend: "web").map(\.name) == ["flock-web-2"])
    }

    @Test func staticServersAreListedWithFlocksOwn() async throws {
        let balancer = InMemoryBalancer(backends: ["web"])
        let origin = BalancerServer(name: "origin", address: "10.0.0.10", port: 80, status: .up, sessions: 7)
        await balancer.addStatic(origin, backend: "web")
        try await balancer.register(Self.registration())
        let servers = try await balancer.servers(backend: "web")
        #expect(servers.map(\.name) == ["flock-web-1", "origin"])
        #expect(servers.last == origin)
    }
}

@Suite struct InMemoryHypervisorTests {
    static func request(_ names: [String], mode: CloneMode = .lazy, parent: String = "web-parent") -> CloneRequest {
        CloneRequest(pool: "web", parent: parent, mode: mode, names: names)
    }

    @Test func cloneBatchStartsRunningVMsWithLineage() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let batch = try await hypervisor.clone(Self.request(["flock-web-1", "flock-web-2"]))
        #expect(batch.failed.isEmpty)
        #expect(batch.started.map(\.name) == ["flock-web-1", "flock-web-2"])
        for vm in batch.started {
            #expect(vm.status == .running)
            #expect(vm.pool == "web")
            #expect(vm.lineage.parent == "web-parent")
            #expect(vm.lineage.snapshot != nil)
            #expect(vm.lineage.generation == 1)
            #expect(vm.lineage.mode == .lazy)
            #expect(vm.address != nil)
        }
        #expect(Set(batch.started.compactMap(\.lineage.snapshot)).count == 1, "one snapshot per batch")
        #expect(Set(batch.started.compactMap(\.address)).count == 2, "each clone has its own address")
    }

    @Test func generationIncrementsPerBatch() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let first = try await hypervisor.clone(Self.request(["flock-web-1", "flock-web-2"]))
        let second = try await hypervisor.clone(Self.request(["flock-web-3"], mode: .eager))
        #expect(first.started.map(\.lineage.generation) == [1, 1])
        #expect(second.started.map(\.lineage.generation) == [2])
        #expect(second.started.first?.lineage.snapshot != first.started.first?.lineage.snapshot)
        #expect(second.started.first?.lineage.mode == .eager)
    }

    @Test func coldBootsHaveNoSnapshot() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let batch = try await hypervisor.clone(Self.request(["flock-web-1"], mode: .cold))
        let vm = try #require(batch.started.first)
        #expect(vm.lineage.snapshot == nil)
        #expect(vm.lineage.mode == .cold)
    }

    @Test(arguments: [("no-such-parent", "web"), ("web-parent", "api")])
    func unknownParentThrowsNotFound(parent: String, pool: String) async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let error = await #expect(throws: FlockError.self) {
            try await hypervisor.clone(CloneRequest(pool: pool, parent: parent, mode: .lazy, names: ["flock-x-1"]))
        }
        #expect(error?.isNotFound == true)
        #expect(try await hypervisor.ownedVMs().isEmpty)
    }

    @Test func injectedFailureIsReportedWhileTheOthersStart() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        await hypervisor.failNextClone(named: "flock-web-2")
        let batch = try await hypervisor.clone(Self.request(["flock-web-1", "flock-web-2", "flock-web-3"]))
        #expect(batch.started.map(\.name) == ["flock-web-1", "flock-web-3"])
        #expect(Array(batch.failed.keys) == ["flock-web-2"])
        #expect(try await hypervisor.ownedVMs().map(\.name) == ["flock-web-1", "flock-web-3"])
        // The failure is for the next clone only.
        let retry = try await hypervisor.clone(Self.request(["flock-web-2"]))
        #expect(retry.started.map(\.name) == ["flock-web-2"])
    }

    @Test func duplicateNameFailsWithoutReplacingTheRunningVM() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let first = try await hypervisor.clone(Self.request(["flock-web-1"]))
        let again = try await hypervisor.clone(Self.request(["flock-web-1"]))
        #expect(again.started.isEmpty)
        #expect(again.failed["flock-web-1"] != nil)
        #expect(try await hypervisor.ownedVMs() == first.started)
    }

    @Test func destroyRemovesFromOwnedVMsAndIsIdempotent() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        _ = try await hypervisor.clone(Self.request(["flock-web-1", "flock-web-2"]))
        try await hypervisor.destroy(name: "flock-web-1")
        try await hypervisor.destroy(name: "flock-web-1")
        #expect(try await hypervisor.ownedVMs().map(\.name) == ["flock-web-2"])
    }
}

/// Standbys in the in-memory driver behave as the QEMU driver's do, so the controller can be
/// tested against them.
@Suite struct InMemoryStandbyTests {
    static let made = Date(timeIntervalSince1970: 2_000_000)

    static func request(_ names: [String], mode: CloneMode = .lazy) -> CloneRequest {
        CloneRequest(pool: "web", parent: "web-parent", mode: mode, names: names, standby: true)
    }

    @Test func standbysArePausedStampedAndListed() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"]) { Self.made }
        let batch = try await hypervisor.clone(Self.request(["flock-web-s1", "flock-web-s2"]))
        #expect(batch.failed.isEmpty)
        #expect(batch.started.map(\.status) == [.paused, .paused])
        #expect(batch.started.allSatisfy { $0.standby == VMInfo.Standby(createdAt: Self.made, frozenAt: Self.made) })
        #expect(batch.started.allSatisfy { $0.lineage.mode == .lazy && $0.lineage.snapshot != nil })
        #expect(try await hypervisor.ownedVMs() == batch.started)
    }

    @Test func activationMakesAStandbyAnOrdinaryRunningClone() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"]) { Self.made }
        let waiting = try #require(try await hypervisor.clone(Self.request(["flock-web-s1"])).started.first)
        let active = try await hypervisor.activate(name: "flock-web-s1")
        #expect(active.status == .running && active.standby == nil)
        #expect(active.lineage == waiting.lineage && active.address == waiting.address)
        #expect(try await hypervisor.ownedVMs() == [active])
        let again = await #expect(throws: FlockError.self) { _ = try await hypervisor.activate(name: "flock-web-s1") }
        #expect(again?.isConflict == true)
    }

    @Test func unknownNamesAndOrdinaryClonesAreRefused() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        _ = try await hypervisor.clone(
            CloneRequest(pool: "web", parent: "web-parent", mode: .lazy, names: ["flock-web-c1"]))
        let unknown = await #expect(throws: FlockError.self) { _ = try await hypervisor.activate(name: "flock-web-x") }
        #expect(unknown?.isNotFound == true)
        let clone = await #expect(throws: FlockError.self) { _ = try await hypervisor.activate(name: "flock-web-c1") }
        #expect(clone?.isConflict == true)
        #expect(try await hypervisor.ownedVMs().map(\.status) == [.running])
    }

    @Test(arguments: [CloneMode.eager, .cold])
    func onlyLazyClonesCanBeStandbys(mode: CloneMode) async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        let error = await #expect(throws: FlockError.self) {
            _ = try await hypervisor.clone(Self.request(["flock-web-s1"], mode: mode))
        }
        #expect(error?.isConflict == true)
        #expect(try await hypervisor.ownedVMs().isEmpty)
    }

    @Test func aFailedActivationDestroysTheStandby() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        _ = try await hypervisor.clone(Self.request(["flock-web-s1", "flock-web-s2"]))
        await hypervisor.failNextClone(named: "flock-web-s1")
        await #expect(throws: FlockError.self) { _ = try await hypervisor.activate(name: "flock-web-s1") }
        #expect(try await hypervisor.ownedVMs().map(\.name) == ["flock-web-s2"])
        #expect(try await hypervisor.activate(name: "flock-web-s2").status == .running)
    }

    @Test func destroyRemovesAStandby() async throws {
        let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
        _ = try await hypervisor.clone(Self.request(["flock-web-s1"]))
        try await hypervisor.destroy(name: "flock-web-s1")
        #expect(try await hypervisor.ownedVMs().isEmpty)
        await #expect(throws: FlockError.self) { _ = try await hypervisor.activate(name: "flock-web-s1") }
    }
}

@Suite struct InMemoryMetricsSourceTests {
    static let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func unsetMetricIsAnErrorNotZero() async throws {
        let source = InMemoryMetricsSource { Self.now }
        source.set(.queue, .value(0), backend: "web")
        let samples = await source.read(backend: "web", metrics: [.queue, .sessionsPerServer])
        #expect(samples.count == 2)
        let perServer = try #require(samples.first { $0.metric == .sessionsPerServer })
        #expect(perServer.value == nil)
        guard case .error = perServer.reading else {
            Issue.record("unset metric read as \(perServer.reading)")
            return
        }
        let queue = try #require(samples.first { $0.metric == .queue })
        #expect(queue.value == 0)
        #expect(samples.allSatisfy { $0.time == Self.now })
    }

    @Test func readingsArePerBackend() async {
        let source = InMemoryMetricsSource { Self.now }
        source.set(.sessions, .value(12), backend: "web")
        source.set(.sessions, .error("timeout"), backend: "web")
        source.set(.sessions, .value(5), backend: "api")
        let web = await source.read(backend: "web", metrics: [.sessions])
        let api = await source.read(backend: "api", metrics: [.sessions])
        let other = await source.read(backend: "db", metrics: [.sessions])
        #expect(web.map(\.reading) == [.error("timeout")])
        #expect(api.map(\.value) == [5])
        #expect(other.map(\.value) == [nil])
    }
}
