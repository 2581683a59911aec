import FlockDemo
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The demo's bridge network, with a stand-in guest: a network namespace of its own plugged into
/// the demo bridge at 10.241.0.200, as a VM's TAP would be. The balancer's side (this process,
/// in the root namespace) reaches it; nothing the guest starts reaches the root namespace or the
/// demo namespace. Real `ip` and `nft`; needs root, as the demo does.
@Suite(.serialized) struct DemoNetworkTests {
    static let guestAddress = "10.241.0.200"

    @Test func theBalancerReachesAGuestAndTheGuestReachesNothing() async throws {
        let scratch = try Scratch(prefix: "demo-network")
        let network = try await DemoNetwork.create(log: scratch.path("network.log"))
        let guest = "flkguest\(UInt16.random(in: 0...0xfff))"
        var servers: [ChildProcess] = []
        defer {
            for server in servers { server.kill() }
        }
        do {
            try await plugIn(guest)
            let app = try #require(BuiltBinary.url("flock-demo-app")?.path, "flock-demo-app is not built")
            servers.append(
                try await ChildProcess.start(
                    "ip", ["netns", "exec", guest, app, "--port", "8080"], stdout: scratch.path("guest-app.log")))
            servers.append(
                try await ChildProcess.start(
                    "ip", ["netns", "exec", DemoNetwork.namespace, app, "--port", "9090"],
                    stdout: scratch.path("namespace-app.log")))
            let reached = await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
                (try? await PlainHTTP.get(host: Self.guestAddress, port: 8080, "/healthz", timeout: .seconds(2)))?
                    .status == 200
            }
            #expect(reached, "the root namespace reaches a guest on the demo bridge")

            let (host, port) = try listenOnAllAddresses()
            defer { close(host) }
            // The control: the listener takes connections from the demo namespace itself ...
            #expect(try await connects(from: DemoNetwork.namespace, to: "10.241.1.1", port: port))
            // ... but not from a guest, by any of the host's addresses, nor to the namespace.
            #expect(!(try await connects(from: guest, to: "10.241.1.1", port: port)), "guest reached the host")
            #expect(!(try await connects(from: guest, to: "10.241.1.2", port: 9090)), "guest reached the uplink")
            #expect(
                !(try await connects(from: guest, to: DemoNetwork.gateway, port: 9090)), "guest reached the gateway")
        } catch {
            await cleanUp(guest, network)
            throw error
        }
        await cleanUp(guest, network)
        let namespaces = try await ChildProcess.run("ip", ["netns", "list"]).standardOutput
        #expect(!namespaces.contains(DemoNetwork.namespace), "the demo namespace is removed: \(namespaces)")
    }

    /// A namespace with one veth end at `guestAddress`, the other end on the demo bridge.
    private func plugIn(_ guest: String) async throws {
        let peer = "fgb\(guest.suffix(4))"
        let steps: [[String]] = [
            ["netns", "add", guest],
            [
                "link", "add", "eth0", "netns", guest, "type", "veth", "peer", "name", peer, "netns",
                DemoNetwork.namespace,
            ],
            ["-n", DemoNetwork.namespace, "link", "set", peer, "master", DemoNetwork.bridge],
            ["-n", DemoNetwork.namespace, "link", "set", peer, "up"],
            ["-n", guest, "addr", "add", "\(Self.guestAddress)/24", "dev", "eth0"],
            ["-n", guest, "link", "set", "eth0", "up"],
            ["-n", guest, "link", "set", "lo", "up"],
            ["-n", guest, "route", "add", "default", "via", DemoNetwork.gateway],
        ]
        for step in steps {
            let outcome = try await ChildProcess.run("ip", step)
            try #require(outcome.status == 0, "ip \(step.joined(separator: " ")): \(outcome.standardError)")
        }
    }

    /// Whether a TCP connection from inside `namespace` completes within two seconds (bash's
    /// `/dev/tcp`, the address and port being this test's own constants).
    private func connects(from namespace: String, to address: String, port: Int) async throws -> Bool {
        let outcome = try await ChildProcess.run(
            "ip", ["netns", "exec", namespace, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/\(address)/\(port)"],
            timeout: .seconds(10))
        return outcome.status == 0
    }

    /// A TCP socket listening on 0.0.0.0 on a free port: the kernel completes handshakes on its
    /// own, so nothing needs to accept.
    private func listenOnAllAddresses() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound, "bind/listen: \(String(cString: strerror(errno)))")
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    private func cleanUp(_ guest: String, _ network: DemoNetwork) async {
        _ = try? await ChildProcess.run("ip", ["netns", "delete", guest])
        await network.destroy()
    }
}
