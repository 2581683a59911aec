import FlockHostRig
import FlockSystem
import Foundation

/// The demo's VM network in bridge mode: a network namespace holding a bridge for the parent and
/// its clones, routed from the root namespace (where HAProxy and wrk run) over a veth pair.
///
/// QEMU's user-mode networking (slirp) forwards each guest port through one host process and
/// drops bursts of new connections, which showed up as a p99 peak in every published chart; a
/// TAP on a bridge does not. The namespace's firewall forwards only connections the root
/// namespace opens to the VMs (and their replies), and drops everything a guest starts toward the
/// namespace or beyond: guests cannot reach the host. Needs root, `ip` and `nft`.
public struct DemoNetwork: Sendable {
    public static let namespace = "flock-demo"
    public static let bridge = "flkbr0"
    public static let subnet = "10.241.0.0/24"
    /// The bridge's own address: the VMs' gateway.
    public static let gateway = "10.241.0.1"
    /// The veth pair between the root namespace (`rootSide`, 10.241.1.1) and the namespace's uplink.
    static let rootSide = "flkdemo0"
    static let uplink = "up0"
    static let transit = (root: "10.241.1.1", namespace: "10.241.1.2")

    /// Refuses before anything starts when the network cannot be built here.
    static func checkPrerequisites() throws {
        guard geteuid() == 0 else {
            throw DemoError(
                "--network bridge needs root (a network namespace, a bridge and TAP devices); "
                    + "run as root, or pass --network user (QEMU's user-mode networking, with its p99 peak)")
        }
        for tool in ["ip", "nft"] where findExecutable(tool) == nil {
            throw DemoError("\(tool) is not installed (hint: bash Deploy/setup.sh)")
        }
    }

    /// Builds the network, replacing one a killed demo left behind.
    public static func create(log: String) async throws -> DemoNetwork {
        let network = DemoNetwork()
        await network.destroy()
        let ns = ["-n", namespace]
        let steps: [[String]] = [
            ["netns", "add", namespace],
            ["link", "add", rootSide, "type", "veth", "peer", "name", uplink, "netns", namespace],
            ["addr", "add", "\(transit.root)/30", "dev", rootSide],
            ["link", "set", rootSide, "up"],
            ns + ["addr", "add", "\(transit.namespace)/30", "dev", uplink],
            ns + ["link", "set", uplink, "up"],
            ns + ["link", "set", "lo", "up"],
            ns + ["link", "add", bridge, "type", "bridge"],
            ns + ["addr", "add", "\(gateway)/24", "dev", bridge],
            ns + ["link", "set", bridge, "up"],
            ["route", "add", subnet, "via", transit.namespace],
        ]
        do {
            for step in steps { try await run("ip", step, log: log) }
            try await run("ip", ["netns", "exec", namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"], log: log)
            try await VMFirewall.install(in: namespace, table: "flock_demo", uplink: uplink, bridge: bridge)
        } catch {
            await network.destroy()
            throw error
        }
        return network
    }

    /// Removes the namespace (with its bridge, the VMs' TAPs and its end of the veth) and the root
    /// side of the veth, which takes its route along; a network already gone is fine.
    public func destroy() async {
        _ = try? await ChildProcess.run("ip", ["link", "delete", Self.rootSide], log: "/dev/null")
        _ = try? await ChildProcess.run("ip", ["netns", "delete", Self.namespace], log: "/dev/null")
    }

    private static func run(_ tool: String, _ arguments: [String], log: String) async throws {
        let status = try await ChildProcess.run(tool, arguments, log: log)
        guard status == 0 else {
            throw DemoError("\(tool) \(arguments.joined(separator: " ")) failed with status \(status) (see \(log))")
        }
    }
}
