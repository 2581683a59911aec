import FlockCore
import FlockDemo
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension EndToEnd {
    /// SIGKILL in the middle of a scale-out, and again in the middle of a scale-in: after each
    /// restart, the store, the VMs and HAProxy agree (no orphan VM, no stale `flock-` server, no
    /// open journal intent), and the pool carries on to the count it was asked for.
    @Test func sigkillDuringScaleOutAndScaleInConvergesAfterRestart() async throws {
        let e2e = try await E2E()
        do {
            let store = try e2e.store()
            // Scale-out: kill as soon as a clone is on its way (requested … registering).
            #expect(try await e2e.flockd.setDesired(3).status == 200)
            // Poll the store tightly and kill at once: the work in flight is what the kill must hit.
            let warming = await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(2)) {
                try store.instances(pool: e2e.pool).contains { $0.role == .clone && $0.state.isWarming }
            }
            await e2e.flockd.crash()
            let caughtOut = await e2e.picture()
            #expect(warming, "no clone started warming: \(caughtOut)")
            #expect(
                try store.instances(pool: e2e.pool).contains { $0.role == .clone && $0.state != .serving },
                "the kill came mid scale-out: \(caughtOut)")

            try await e2e.flockd.start()
            // Bounded generously for slow CI; it is the agreement that is asserted, not a time.
            let convergedOut = await eventuallyRetryingErrors(timeout: .seconds(120)) {
                try await e2e.agree() && e2e.storeClones().count == 2
            }
            let picture2 = await e2e.picture()
            #expect(convergedOut, "after a kill mid scale-out: \(picture2); killed at: \(caughtOut)")

            // Scale-in: kill while a clone is draining or being destroyed.
            #expect(try await e2e.flockd.setDesired(1).status == 200)
            let leaving = await eventuallyRetryingErrors(timeout: .seconds(90), every: .milliseconds(2)) {
                try store.instances(pool: e2e.pool).contains { $0.state == .draining || $0.state == .stopping }
            }
            await e2e.flockd.crash()
            let caughtIn = await e2e.picture()
            #expect(leaving, "no clone started leaving: \(caughtIn)")

            try await e2e.flockd.start()
            let convergedIn = await eventuallyRetryingErrors(timeout: .seconds(120)) {
                try await e2e.agree() && e2e.storeClones().isEmpty
            }
            let picture4 = await e2e.picture()
            #expect(convergedIn, "after a kill mid scale-in: \(picture4); killed at: \(caughtIn)")
            #expect(e2e.flockd.log.contains("recovered"))
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }

    /// SIGTERM while clones are on their way: flockd finishes (or fails and cleans up) what is in
    /// flight, exits 0, and leaves no open journal intent; store, VMs and HAProxy agree.
    @Test func sigtermDuringScaleOutLeavesConsistentState() async throws {
        let e2e = try await E2E()
        do {
            let store = try e2e.store()
            #expect(try await e2e.flockd.setDesired(2).status == 200)
            let warming = await eventuallyRetryingErrors(timeout: .seconds(60), every: .milliseconds(2)) {
                try store.instances(pool: e2e.pool).contains { $0.role == .clone && $0.state.isWarming }
            }
            let status = await e2e.flockd.stop(grace: .seconds(120))
            #expect(warming, "SIGTERM came while a clone was on its way")
            #expect(status == 0, "flockd's exit status after SIGTERM; log:\n\(e2e.flockd.log.suffix(2000))")
            let picture6 = await e2e.picture()
            #expect(try store.openIntents(pool: e2e.pool).isEmpty, "\(picture6)")
            let picture7 = await e2e.picture()
            #expect(
                try store.instances(pool: e2e.pool).allSatisfy { $0.state == .serving || $0.state == .failed },
                "nothing half-way: \(picture7)")
            let picture8 = await e2e.picture()
            #expect(try await e2e.agree(), "\(picture8)")
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }
}
