import FlockCore
import FlockDemo
import FlockQEMU
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults that happen around a running flockd rather than inside it.
extension EndToEnd.Faults {
    /// A clone's QEMU dies: flockd marks the clone failed with the cause, removes it, and the
    /// pool is back at its count with a new clone.
    @Test func aKilledCloneIsMarkedFailedAndReplaced() async throws {
        try await withFaultStack { e2e in
            let scaled = try await e2e.scale(to: 2)
            try #require(scaled == nil, "\(scaled ?? "")")
            let victim = try #require(try e2e.storeClones().first?.name)
            let pids = E2E.qemuProcesses(stateRoot: e2e.parent.stateRoot)[victim] ?? []
            try #require(!pids.isEmpty, "no QEMU process for \(victim)")
            let killed = ContinuousClock.now
            for pid in pids { kill(pid, SIGKILL) }
            // Until flockd notices, the old picture still looks converged: wait for the notice first.
            let noticed = await eventuallyRetryingErrors(timeout: .seconds(30), every: .milliseconds(100)) {
                try e2e.store().stateHistory(instance: victim).contains { $0.to == .failed }
            }
            #expect(noticed, "flockd never marked \(victim) failed after its QEMU was killed")
            let problem = await e2e.convergence(clones: 1)
            #expect(problem == nil, "after \(victim)'s QEMU was killed: \(problem ?? "")")
            let history = try e2e.store().stateHistory(instance: victim).map(\.to)
            #expect(history.contains(.failed) && history.last == .gone, "\(victim): \(history)")
            print("fault case clone QEMU killed: converged in \(ContinuousClock.now - killed)")
        }
    }

    /// The parent is paused behind flockd's back (QMP `stop`): flockd resumes it, says so in an
    /// event, and the parent's server is UP again.
    @Test func aParentPausedBehindFlockdsBackIsResumed() async throws {
        try await withFaultStack { e2e in
            let before = try await e2e.flockd.events(since: nil).lastId
            let qmp = try await e2e.parentQMP("stop")
            #expect(qmp == "paused", "the parent's status after QMP stop")
            let paused = ContinuousClock.now
            let problem = await e2e.convergence(clones: 0, timeout: .seconds(30))
            #expect(problem == nil, "after the parent was paused: \(problem ?? "")")
            let events = try await e2e.flockd.events(since: before).events
            #expect(
                events.contains { $0.message.lowercased().contains("resum") },
                "an event says the parent was resumed: \(events.map(\.message))")
            print("fault case parent paused: converged in \(ContinuousClock.now - paused)")
        }
    }

    /// HAProxy restarts from its config (as a reload does, every dynamic server is gone): flockd
    /// registers its serving clones again.
    @Test func anHAProxyReloadGetsTheClonesRegisteredAgain() async throws {
        try await withFaultStack { e2e in
            let scaled = try await e2e.scale(to: 2)
            try #require(scaled == nil, "\(scaled ?? "")")
            await e2e.haproxy.stop()
            try await e2e.haproxy.start()
            let reloaded = ContinuousClock.now
            #expect(try await e2e.lbClones().isEmpty, "a reload drops the dynamic servers")
            let problem = await e2e.convergence(clones: 1, timeout: .seconds(60))
            #expect(problem == nil, "after an HAProxy reload: \(problem ?? "")")
            print("fault case HAProxy reload: converged in \(ContinuousClock.now - reloaded)")
        }
    }

    /// An exclusive SQLite transaction, held from outside for twice the store's busy timeout,
    /// while a clone registers: no request through HAProxy fails, no server is routable while
    /// its VM is gone, and the pool converges once the lock is released.
    @Test func aLockedStoreDuringARegistrationLosesNoRequest() async throws {
        try await withFaultStack { e2e in
            let load = LoadLoop(e2e: e2e)
            let store = try e2e.store()
            #expect(try await e2e.flockd.setDesired(2).status == 200)
            var registering: String?
            _ = await eventuallyRetryingErrors(timeout: .seconds(90), every: .milliseconds(2)) {
                registering = try store.instances(pool: e2e.pool).first {
                    $0.role == .clone && $0.state == .registering
                }?.name
                return registering != nil
            }
            // At once: a registration lasts about one health check.
            let lockedAt = Date()
            let hold = Int(FlockStore.busyTimeout * 2)
            let locker = try await ChildProcess.start(
                "sqlite3", [e2e.flockd.storePath, "BEGIN EXCLUSIVE;", ".shell sleep \(hold)", "COMMIT;"],
                stdout: "\(e2e.directory)/sqlite3.log")
            guard let clone = registering else {
                Issue.record("no clone reached registering: \(await e2e.poolPicture())")
                return
            }
            let status = await locker.waitForExit(timeout: .seconds(Double(hold) + 30))
            #expect(status == 0, "sqlite3 held the lock and committed: \(locker.stderr.suffix(500))")
            let problem = await e2e.convergence(clones: 1)
            let report = await load.finish()
            #expect(problem == nil, "after the store was locked for \(hold)s: \(problem ?? "")")
            #expect(report.requests > 0 && report.failures.isEmpty, "no request may fail: \(report)")
            // The case is only worth its name if the registration was still going when the lock came.
            let history = try store.stateHistory(instance: clone)
            let served = history.first { $0.to == .serving }?.time
            #expect(served.map { $0 > lockedAt } ?? true, "\(clone) served before the lock: \(history)")
            #expect(report.routedWithoutVM.isEmpty, "no VM destroyed while routed: \(report)")
        }
    }

    /// A second flockd on the same store and state root exits 1 at once, naming the lock and the
    /// pid of the one that holds it; the first carries on.
    @Test func aSecondFlockdExitsNamingTheHolder() async throws {
        try await withFaultStack { e2e in
            let first = try #require(e2e.flockd.child?.pid)
            let config = try String(contentsOfFile: e2e.flockd.configPath, encoding: .utf8).replacingOccurrences(
                of: "listen: 127.0.0.1:\(e2e.flockd.port)", with: "listen: 127.0.0.1:\(try freeLoopbackPort())")
            let secondConfig = "\(e2e.directory)/flockd-second.yaml"
            try config.write(toFile: secondConfig, atomically: true, encoding: .utf8)
            let started = ContinuousClock.now
            let second = try await ChildProcess.start(
                try #require(Repo.flockd), ["--config", secondConfig], stdout: "\(e2e.directory)/flockd-second.log")
            let status = await second.waitForExit(timeout: .seconds(10))
            let took = ContinuousClock.now - started
            // One that kept running would fight the first over the pool for the rest of the suite.
            second.kill()
            await second.waitForExit(timeout: .seconds(10))
            let said = (try? String(contentsOfFile: "\(e2e.directory)/flockd-second.log", encoding: .utf8)) ?? ""
            #expect(status == 1, "the second flockd's exit status (took \(took)): \(said.suffix(1500))")
            #expect(took < .seconds(5), "it exits at once, not after \(took)")
            // Words, not substrings: every line says "flockd", and pids hide in timestamps.
            let namesLock = said.range(of: #"\block\b"#, options: .regularExpression) != nil
            let namesPid = said.range(of: "\\b\(first)\\b", options: .regularExpression) != nil
            #expect(namesLock && namesPid, "it names the lock and pid \(first): \(said)")
            #expect(e2e.flockd.isRunning, "the first flockd carries on")
            let problem = await e2e.convergence(clones: 0)
            #expect(problem == nil, "\(problem ?? "")")
            print("fault case second flockd: exited \(status.map(String.init) ?? "-") after \(took)")
        }
    }

    /// A request held in flight to a clone across its scale-in: after `drain_timeout` flockd
    /// shuts the session down and finishes; the clone is never `draining` for longer than the
    /// drain timeout plus two evaluation intervals (plus slack for a loaded CI host).
    @Test func aSessionHeldOpenAcrossAScaleInIsShutDown() async throws {
        try await withFaultStack { e2e in
            let scaled = try await e2e.scale(to: 2)
            try #require(scaled == nil, "\(scaled ?? "")")
            let clone = try #require(try e2e.storeClones().first?.name)
            var sessions: [HeldSession] = []
            let held = await eventuallyRetryingErrors(timeout: .seconds(20), every: .milliseconds(200)) {
                if sessions.count < 8 { sessions.append(try HeldSession(port: e2e.haproxy.frontendPort)) }
                let row = try await e2e.haproxy.client.showStat(backend: e2e.haproxy.backend)
                    .server(clone, of: e2e.haproxy.backend)
                return (row?.integer("scur") ?? 0) > 0
            }
            let atHold = await e2e.poolPicture()
            #expect(held, "no session reached \(clone): \(atHold)")
            let asked = ContinuousClock.now
            #expect(try await e2e.flockd.setDesired(1).status == 200)
            let problem = await e2e.convergence(clones: 0, timeout: .seconds(45))
            for session in sessions { await session.close() }
            #expect(problem == nil, "scale-in with a session held open: \(problem ?? "")")
            let history = try e2e.store().stateHistory(instance: clone)
            if let draining = history.first(where: { $0.to == .draining }),
                let after = history.first(where: { $0.from == .draining })
            {
                let seconds = after.time.timeIntervalSince(draining.time)
                // drain_timeout (3 s) + two evaluation intervals (2 × 0.5 s) + 3 s for a loaded host.
                let bound: Double = 7
                #expect(seconds < bound, "\(clone) was draining for \(seconds)s: \(history)")
            } else {
                Issue.record("\(clone) never went through draining: \(history)")
            }
            print("fault case session held across scale-in: converged in \(ContinuousClock.now - asked)")
        }
    }

    /// A policy version that moves the pool to another backend: the old backend's `flock-`
    /// servers are removed and the clones serve from the new one.
    @Test func aBackendMoveLeavesNoServerInTheOldBackend() async throws {
        try await withFaultStack { e2e in
            let moved = "app2"
            // A second backend for the pool to move to, with the parent's static server in it too.
            let extra = """

                backend \(moved)
                    balance roundrobin
                    option httpchk GET /healthz
                    http-check expect status 200
                    server \(e2e.parent.name) 127.0.0.1:\(e2e.parent.port) check inter 1s

                """
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: e2e.haproxy.configPath))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(extra.utf8))
            try handle.close()
            await e2e.haproxy.stop()
            try await e2e.haproxy.start()
            let scaled = try await e2e.scale(to: 2)
            try #require(scaled == nil, "\(scaled ?? "")")

            var policy = e2e.flockd.settings.policy
            policy.backend = moved
            let file = "\(e2e.directory)/policy-\(moved).yaml"
            try policy.yaml.write(toFile: file, atomically: true, encoding: .utf8)
            let apply = try await ChildProcess.start(
                try #require(BuiltBinary.url("flockctl")?.path),
                ["policy", "apply", "--db", e2e.flockd.storePath, file],
                stdout: "\(e2e.directory)/policy-apply.log")
            let applyStatus = await apply.waitForExit(timeout: .seconds(30))
            let applyLog = (try? String(contentsOfFile: "\(e2e.directory)/policy-apply.log", encoding: .utf8)) ?? ""
            try #require(applyStatus == 0, "flockctl policy apply: \(applyLog)")
            let applied = ContinuousClock.now
            let emptied = await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(500)) {
                try await e2e.lbClones().isEmpty
            }
            let old = await e2e.poolPicture()
            #expect(emptied, "the old backend still has flock- servers: \(old)")
            let problem = await e2e.convergence(clones: 1, backend: moved, timeout: .seconds(60))
            #expect(problem == nil, "after the move to \(moved): \(problem ?? "")")
            print("fault case backend move: converged in \(ContinuousClock.now - applied)")
        }
    }
}
