import FlockCore
import FlockDemo
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

extension EndToEnd {
    /// A config with mistakes never starts: exit 1, every error located at file:line:column.
    @Test func aBadConfigRefusesToStartWithALocatedError() async throws {
        let scratch = try Scratch(tmpfs: "badcfg")
        let directory = scratch.dir.path
        let flockd = try #require(Repo.flockd)
        let config = "\(directory)/flockd.yaml"
        try """
        store: { path: \(directory)/flock.db }
        listen: 127.0.0.1:notaport
        balancers:
          haproxy: { kind: haproxy, socket: \(directory)/none.sock, timeoutt: 5s }
        hypervisors:
          local: { kind: qemu, state_root: \(directory)/qemu }
        pools:
          web: { policy: missing.yaml, balancer: haproxy, hypervisor: local }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try await Child.run(URL(fileURLWithPath: flockd), ["--config", config], in: scratch)
        #expect(run.status == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("\(config):2:"), "the bad listen address, located: \(run.stderr)")
        #expect(run.stderr.contains("\(config):4:"), "the unknown key, located: \(run.stderr)")
        #expect(run.stderr.contains("not starting"))
    }

    /// Mutating API calls without the bearer token (or with a wrong one) get 401 and change nothing.
    @Test func theAPIRefusesMutationsWithoutTheToken() async throws {
        let e2e = try await E2E()
        do {
            let port = e2e.flockd.port
            let none = try await PlainHTTP.request("POST", port: port, "/v1/pools/\(e2e.pool)/pause")
            #expect(none.status == 401, "\(none.text)")
            let wrong = try await e2e.flockd.setDesired(3, token: "not-the-token-0123456789")
            #expect(wrong.status == 401, "\(wrong.text)")
            let pool = try await e2e.flockd.pool()
            #expect(pool["paused"] as? Bool == false)
            #expect(pool["manual_desired"] is NSNull || pool["manual_desired"] == nil)
            let right = try await PlainHTTP.request(
                "POST", port: port, "/v1/pools/\(e2e.pool)/pause",
                headers: ["Authorization": "Bearer \(e2e.flockd.token)"])
            #expect(right.status == 200, "the token itself works: \(right.text)")
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }

    /// With HAProxy's socket gone, flockd has no metrics: it records metric_missing and does not
    /// scale in, although the pool is over-provisioned. When HAProxy is back, it decides again
    /// and scales in.
    @Test func missingMetricsHoldScaleInUntilTheSourceIsBack() async throws {
        let e2e = try await E2E()
        do {
            #expect(try await e2e.flockd.setDesired(2).status == 200)
            let scaledOut = await eventuallyRetryingErrors(timeout: .seconds(120)) {
                try e2e.storeClones().filter { $0.state == .serving }.count == 1
            }
            let picture1 = await e2e.picture()
            #expect(scaledOut, "\(picture1)")
            let clone = try #require(try e2e.storeClones().first?.name)

            await e2e.haproxy.stop()
            let since = Date()
            let lastEvent = try await e2e.flockd.events(since: nil).lastId
            // No load and no manual count: with metrics, the policy would scale in.
            #expect(try await e2e.flockd.setDesired(nil).status == 200)
            let missing = await eventuallyRetryingErrors(timeout: .seconds(60)) {
                try await e2e.flockd.events(since: lastEvent).events.contains { $0.kind == "metric_missing" }
            }
            #expect(missing, "a metric_missing event while HAProxy is down")
            // Longer than the policy's scale-in stabilization (15s) plus its cooldown: a pool
            // reading zeros would have scaled in by now.
            try await Task.sleep(for: .seconds(25))
            let store = try e2e.store()
            #expect(!(try store.decisions(pool: e2e.pool, since: since).contains { $0.action == .scaleIn }))
            let picture2 = await e2e.picture()
            #expect(try e2e.storeClones().first { $0.name == clone }?.state == .serving, "\(picture2)")

            try await e2e.haproxy.start()
            let back = Date()
            let recovered = await eventuallyRetryingErrors(timeout: .seconds(180)) {
                let vms = await e2e.vmClones()
                return try store.decisions(pool: e2e.pool, since: back).contains { $0.action == .scaleIn }
                    && e2e.storeClones().isEmpty && vms.isEmpty
            }
            let picture3 = await e2e.picture()
            #expect(recovered, "scale-in resumes once metrics are back: \(picture3)")
            #expect((try await e2e.lbClones()).isEmpty)
        } catch {
            await e2e.tearDown()
            throw error
        }
        await e2e.tearDown()
    }
}
