import FlockQEMU

/// The parent's network on the root "host": a namespace holding a bridge, joined by a veth whose
/// root end is the VMs' gateway (10.232.9.1), as the QEMU driver's bridge mode uses it
/// (`networkNamespace`). One at a time on a machine: its subnet is fixed.
public final class ParentNetwork: Sendable {
    public let namespace: String
    public let rootSide: String
    public let bridge = "flkbr0"
    public let subnet = "10.232.9.0/24"
    public let gateway = "10.232.9.1"
    /// The parent's (and same-host clones') network, for its `VMSpec`.
    public var network: NetworkSpec { NetworkSpec(mode: .bridge, bridge: bridge, cidr: subnet, gateway: gateway) }

    /// Names it; `create` builds it.
    public init(tag: String) {
        namespace = "flkpar\(tag)"
        rootSide = "fhp\(tag)"
    }

    /// Builds the namespace, bridge and veth; on a failure, removes what it built.
    public func create() async throws {
        let steps: [[String]] = [
            ["netns", "add", namespace],
            ["-n", namespace, "link", "add", bridge, "type", "bridge"],
            ["link", "add", rootSide, "type", "veth", "peer", "name", "flkn0", "netns", namespace],
            ["-n", namespace, "link", "set", "flkn0", "master", bridge],
            ["-n", namespace, "link", "set", "flkn0", "up"],
            ["-n", namespace, "link", "set", bridge, "up"],
            ["-n", namespace, "link", "set", "lo", "up"],
            ["addr", "add", "\(gateway)/24", "dev", rootSide],
            ["link", "set", rootSide, "up"],
        ]
        do {
            for step in steps { try await RigTool.run("ip", step) }
        } catch {
            await destroy()
            throw error
        }
    }

    /// Kills what runs in the namespace and deletes it with its veth.
    public func destroy() async {
        await HostRig.killAll(in: namespace)
        _ = try? await RigTool.run("ip", ["link", "delete", rootSide])
        _ = try? await RigTool.run("ip", ["netns", "delete", namespace])
    }
}
