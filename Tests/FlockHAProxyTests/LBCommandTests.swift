import FlockSystem
import FlockTestSupport
import Foundation
import Testing

/// `flockctl lb …`, the built binary, against a real HAProxy running the shipped Deploy/haproxy.cfg.
@Suite(.timeLimit(.minutes(2)))
struct LBCommandTests {
    /// Deploy/haproxy.cfg with its socket, ports and parent address moved into the test's sandbox.
    static func exampleConfig(parentPort: Int) throws -> (String, Int, Int) throws -> String {
        let text = try String(contentsOfFile: Repo.path("Deploy/haproxy.cfg"), encoding: .utf8)
        for needle in ["/run/haproxy/admin.sock", "bind :80", "127.0.0.1:8405", "10.0.0.10:8080"] {
            #expect(text.contains(needle), "Deploy/haproxy.cfg no longer holds '\(needle)', which this test rewrites")
        }
        let prometheusPort = try freeLoopbackPort()
        return { socket, _, frontendPort in
            text.replacingOccurrences(of: "/run/haproxy/admin.sock", with: socket)
                .replacingOccurrences(of: "bind :80", with: "bind 127.0.0.1:\(frontendPort)")
                .replacingOccurrences(of: "127.0.0.1:8405", with: "127.0.0.1:\(prometheusPort)")
                .replacingOccurrences(of: "10.0.0.10:8080", with: "127.0.0.1:\(parentPort)")
                .replacingOccurrences(of: "log /dev/log local0", with: "")
        }
    }

    @Test func lifecycleThroughTheCLIOnTheExampleConfig() async throws {
        let parent = try TestHTTPServer(name: "parent")
        let clone = try TestHTTPServer(name: "clone")
        defer { [parent, clone].forEach { $0.stop() } }
        let haproxy = try await HAProxyInstance(config: try Self.exampleConfig(parentPort: parent.port))
        defer { haproxy.stop() }
        let common = ["--haproxy", haproxy.socketPath, "--backend", "app"]

        let check = try await flockctl(["lb", "check"] + common)
        #expect(check.status == 0, "\(check)")
        #expect(check.stdout.contains("balance roundrobin"))

        let register = try await flockctl(
            ["lb", "register"] + common
                + ["--name", "flock-web-1", "--address", "127.0.0.1:\(clone.port)", "--check-interval", "100ms"]
        )
        #expect(register.status == 0, "\(register)")

        let show = try await flockctl(["lb", "show"] + common)
        #expect(show.status == 0, "\(show)")
        let rows = show.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.first?.first == "NAME")
        let cloneRow = try #require(rows.first { $0.first == "flock-web-1" })
        #expect(cloneRow[1] == "UP")
        #expect(cloneRow.last == "flock")
        #expect(rows.first { $0.first == "web-parent" }?.last == "other")

        // The parent is not Flock's: refused with exit 1 and a message saying why.
        let refused = try await flockctl(["lb", "remove"] + common + ["--name", "web-parent"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not a Flock server"))

        let drain = try await flockctl(["lb", "drain"] + common + ["--name", "flock-web-1", "--timeout", "5s"])
        #expect(drain.status == 0, "\(drain)")
        #expect(drain.stdout.contains("drained"))
        let remove = try await flockctl(["lb", "remove"] + common + ["--name", "flock-web-1"])
        #expect(remove.status == 0, "\(remove)")
        let after = try await flockctl(["lb", "show"] + common)
        #expect(!after.stdout.contains("flock-web-1"))
        #expect(after.stdout.contains("web-parent"))
    }

    @Test func usageAndConnectionErrorsAreClear() async throws {
        let badAddress = try await flockctl(
            [
                "lb", "register", "--haproxy", "/tmp/none.sock", "--backend", "app", "--name", "flock-x", "--address",
                "nope",
            ]
        )
        #expect(badAddress.status == 2)
        #expect(badAddress.stderr.contains("--address"))

        let missing = try await flockctl(["lb", "show", "--haproxy", "/nonexistent/admin.sock", "--backend", "app"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot connect"))
        #expect(missing.stderr.contains("level admin"))
    }

    // MARK: - running the binary

    /// Runs the `flockctl` built next to this test bundle, with a bounded wait.
    func flockctl(_ arguments: [String]) async throws -> Child.Result {
        let binary = try #require(BuiltBinary.url("flockctl"))
        let scratch = try Scratch(prefix: "flock-lb-tests")
        let run = try await Child.run(
            binary, arguments, environment: ["FLOCK_DB": scratch.path("unused.db")], in: scratch)
        #expect(run.status != nil, "flockctl \(arguments) did not finish within 60 s")
        return run
    }
}
