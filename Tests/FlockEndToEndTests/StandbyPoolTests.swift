import FlockCore
import FlockDemo
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension EndToEnd {
    /// A pool with `standby: { count: 1 }` under the built flockd, real QEMU and real HAProxy: the
    /// standby is kept paused and unregistered, a scale-out activates it (and a new one is
    /// restored), a killed standby is replaced, a restart adopts the standby it finds, and
    /// scale-in drains only the serving clone.
    @Test func aStandbyIsKeptActivatedFirstReplacedAndAdoptedAcrossARestart() async throws {
        try await withFaultStack(standby: 1) { e2e in try await exercise(e2e) }
    }

    private func exercise(_ e2e: E2E) async throws {
        var problem = await e2e.convergence(clones: 0)
        try #require(problem == nil, "a standby at start: \(problem ?? "")")
        let first = try #require(try e2e.store().instances(pool: e2e.pool).first { $0.state == .standby }?.name)

        // A scale-out by one takes the standby: no fresh clone, and a new standby after it.
        problem = try await e2e.scale(to: 2)
        try #require(problem == nil, "scaled out to 2: \(problem ?? "")")
        let store = try e2e.store()
        #expect(try store.instance(named: first)?.state == .serving, "the standby was activated")
        #expect(try store.stateHistory(instance: first).map(\.to) == [.booting, .ready, .registering, .serving])
        let journal = try store.journal(pool: e2e.pool, limit: 500)
        #expect(journal.contains { $0.action == "activate" && $0.instance == first && $0.phase == .done })
        #expect(!journal.contains { $0.action == "clone" }, "no fresh clone was needed")
        let activated = try #require(try store.instance(named: first))
        let served = try await PlainHTTP.get(
            host: try #require(activated.address), port: try #require(activated.port), "/item/a", timeout: .seconds(10))
        #expect(served.status == 200, "the activated standby serves at its recorded address")

        // Its VM killed while it waits: failed with the cause, and replaced.
        let second = try #require(try store.instances(pool: e2e.pool).first { $0.state == .standby }?.name)
        let pids = E2E.qemuProcesses(stateRoot: e2e.parent.stateRoot)[second] ?? []
        try #require(!pids.isEmpty, "no QEMU process for standby \(second)")
        let killed = ContinuousClock.now
        for pid in pids { kill(pid, SIGKILL) }
        let noticed = await eventuallyRetryingErrors(timeout: .seconds(30), every: .milliseconds(100)) {
            try store.stateHistory(instance: second).contains { $0.to == .failed }
        }
        #expect(noticed, "flockd never failed standby \(second) after its QEMU was killed")
        problem = await e2e.convergence(clones: 1)
        try #require(problem == nil, "after the standby's QEMU was killed: \(problem ?? "")")
        print("fault case standby QEMU killed: converged in \(ContinuousClock.now - killed)")
        let cause = try store.stateHistory(instance: second).first { $0.to == .failed }?.note
        #expect(cause == "its standby VM stopped" || cause == "its standby VM is gone", "\(cause ?? "no cause")")
        let third = try #require(try store.instances(pool: e2e.pool).first { $0.state == .standby }?.name)
        #expect(third != second)

        // A restart adopts the paused standby rather than making another.
        await e2e.flockd.stop(grace: .seconds(30))
        try await e2e.flockd.start()
        problem = await e2e.convergence(clones: 1)
        try #require(problem == nil, "after a restart: \(problem ?? "")")
        #expect(try store.instance(named: third)?.state == .standby, "adopted across the restart")

        // Scale-in drains the serving clone and leaves the standby alone.
        problem = try await e2e.scale(to: 1)
        try #require(problem == nil, "scaled in to 1: \(problem ?? "")")
        #expect(try store.instance(named: first)?.state == .gone)
        #expect(try store.instance(named: third)?.state == .standby)
        let drained = try store.journal(pool: e2e.pool, limit: 500).filter { $0.action == "drain" }
        #expect(drained.allSatisfy { $0.instance == first }, "\(drained.map { $0.instance ?? "-" })")
    }
}

/// A step of a standby's life to SIGKILL flockd at: while one is restored (its journal intent
/// written, or the standby just recorded), or while one is activated for a scale-out.
struct StandbyKillStep: Sendable, CustomTestStringConvertible {
    var step: String
    /// Whether the kill comes during a scale-out to 2 (an activation) rather than at start-up.
    var activating: Bool
    var testDescription: String { "\(activating ? "activation" : "restore") at \(step)" }

    static let all = [
        StandbyKillStep(step: "standby:intent", activating: false),
        StandbyKillStep(step: "standby:recorded", activating: false),
        StandbyKillStep(step: "activate:intent", activating: true),
        StandbyKillStep(step: "activate:ready", activating: true),
    ]
}

extension EndToEnd.Faults {
    /// SIGKILL of flockd at a step of a standby's restore or activation, restart without the hook:
    /// the pool converges with its standby (and the clone it was asked for), nothing leaked.
    @Test(arguments: StandbyKillStep.all)
    func sigkillAtAStandbyStepConvergesAfterRestart(_ kill: StandbyKillStep) async throws {
        try await withFaultStack(standby: 1) { e2e in
            var problem = await e2e.convergence(clones: 0)
            try #require(problem == nil, "a standby before the fault: \(problem ?? "")")
            try await e2e.restartFlockd(killingAt: kill.step)
            if kill.activating {
                let set = try await e2e.flockd.setDesired(2)
                #expect(set.status == 200, "\(set.text)")
            } else {
                // The standby's QEMU dies, so flockd restores another, under the hook.
                let standby = try #require(try e2e.store().instances(pool: e2e.pool).first { $0.state == .standby })
                for pid in E2E.qemuProcesses(stateRoot: e2e.parent.stateRoot)[standby.name] ?? [] {
                    Glibc.kill(pid, SIGKILL)
                }
            }
            let killed = await e2e.awaitFaultKill()
            let caught = await e2e.poolPicture()
            #expect(killed, "flockd did not die at \(kill.step): \(caught)\nlog:\n\(e2e.flockd.log.suffix(2000))")
            let restarted = ContinuousClock.now
            try await e2e.flockd.start()
            problem = await e2e.convergence(clones: kill.activating ? 1 : 0)
            #expect(problem == nil, "after a SIGKILL at \(kill.step) (caught: \(caught)): \(problem ?? "")")
            print("fault case standby \(kill.testDescription): converged \(ContinuousClock.now - restarted) after restarting")
        }
    }
}
