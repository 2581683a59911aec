import FlockCore
import FlockDemo
import FlockTestSupport
import Foundation
import Testing

extension EndToEnd {
    /// After the extra capacity is no longer wanted, flockd drains clones one at a time while
    /// load keeps flowing: no request fails, and the clones are removed and destroyed, leaving
    /// nothing behind in HAProxy, the hypervisor or the store.
    @Test func scaleInAfterTheLoadDropsDrainsWithoutAFailedRequest() async throws {
        let e2e = try await E2E()
        do {
            // Calm load (~20 requests/s) all along; capacity comes from a manual count first.
            let load = try await e2e.wrk(connections: 2, seconds: 300, label: "calm")
            let set = try await e2e.flockd.setDesired(3)
            #expect(set.status == 200, "\(set.text)")
            let scaledOut = await eventuallyRetryingErrors(timeout: .seconds(120)) {
                try e2e.storeClones().filter { $0.state == .serving }.count == 2
            }
            let picture1 = await e2e.picture()
            #expect(scaledOut, "\(picture1)")
            let clones = try e2e.storeClones().map(\.name)

            // Hand the pool back to its policy: at ~20 requests/s one server is enough.
            let cleared = try await e2e.flockd.setDesired(nil)
            #expect(cleared.status == 200, "\(cleared.text)")
            let scaledIn = await eventuallyRetryingErrors(timeout: .seconds(180)) {
                let servers = try await e2e.lbClones()
                let vms = await e2e.vmClones()
                return try e2e.storeClones().isEmpty && servers.isEmpty && vms.isEmpty
            }
            load.interrupt()
            let report = try await load.finish()
            let picture2 = await e2e.picture()
            #expect(scaledIn, "\(picture2)")
            #expect(report.requests > 0, "wrk: \(report)")
            #expect(report.failed == 0, "no request may fail during scale-in: \(report)")

            let store = try e2e.store()
            for name in clones {
                let states = try store.stateHistory(instance: name).map(\.to)
                #expect(states.contains(.draining) && states.last == .gone, "\(name): \(states)")
            }
            #expect(try store.openIntents(pool: e2e.pool).isEmpty)
            let decisions = try store.decisions(pool: e2e.pool, since: .distantPast)
            #expect(decisions.contains { $0.action == .scaleIn })
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }
}
