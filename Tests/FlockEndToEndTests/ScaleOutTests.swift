import FlockCore
import FlockDemo
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

extension EndToEnd {
    /// A load above the policy's target makes flockd clone the warm parent; the clones are
    /// registered and take traffic, and they serve warmed keys from the inherited cache.
    @Test func scaleOutUnderLoadClonesTakeTrafficFromAWarmCache() async throws {
        let e2e = try await E2E()
        do {
            let parentStats = try #require(try await PlainHTTP.get(port: e2e.parent.port, "/stats").json)
            let parentMisses = try #require(parentStats["misses"] as? Int)
            #expect(parentMisses >= LoadPlan.defaultKeys.count, "the parent was warmed: \(parentStats)")

            // ~80 requests/s against a target of 25 per server: flockd wants more than the parent.
            let load = try await e2e.wrk(connections: 8, seconds: 120, label: "surge")
            let served = await eventuallyRetryingErrors(timeout: .seconds(120)) {
                let table = try await e2e.haproxy.client.showStat(backend: e2e.haproxy.backend)
                return table.servers(of: e2e.haproxy.backend).contains {
                    $0.server.hasPrefix(OwnedName.prefix) && ($0.integer("stot") ?? 0) > 0
                }
            }
            load.interrupt()
            let report = try await load.finish()
            let picture1 = await e2e.picture()
            #expect(served, "no clone server took a request: \(picture1)")
            #expect(report.requests > 0 && report.failed == 0, "wrk: \(report)")

            let serving = try e2e.storeClones().filter { $0.state == .serving }
            let picture2 = await e2e.picture()
            #expect(!serving.isEmpty, "\(picture2)")
            let table = try await e2e.haproxy.client.showStat(backend: e2e.haproxy.backend)
            for clone in serving {
                let port = try #require(clone.port)
                #expect(clone.lineage.mode == .lazy && clone.lineage.parent == SharedParent.name)
                // The clone served load for warmed keys only: not a single miss beyond the ones it
                // inherited from the parent's warm-up means its first requests were cache hits.
                let stats = try #require(try await PlainHTTP.get(port: port, "/stats").json)
                let stot = table.server(clone.name, of: e2e.haproxy.backend)?.integer("stot") ?? 0
                #expect(stats["misses"] as? Int == parentMisses, "\(clone.name): \(stats)")
                if stot > 0 {
                    #expect(
                        (stats["hits"] as? Int ?? 0) > (parentStats["hits"] as? Int ?? 0), "\(clone.name): \(stats)")
                }
                #expect(stats["clone_id"] as? String == clone.name)
                let item = try await PlainHTTP.get(port: port, "/item/\(LoadPlan.defaultKeys[0])")
                #expect(item.headers["x-cache"] == "hit")
            }
            #expect(await e2e.vmClones() == Set(serving.map(\.name)))
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
        #expect(await e2e.vmClones().isEmpty, "tear-down destroys every clone")
    }
}
