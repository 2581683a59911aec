import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The nftables rules of a namespace that holds VMs on a bridge behind an uplink (the demo's
/// `DemoNetwork`, each `NamespaceHost`): only the outside opens connections, to the VMs through
/// the uplink; replies pass; whatever a guest starts (toward the namespace, the root namespace or
/// further) is dropped, so guests cannot reach the host.
public enum VMFirewall {
    public static func rules(table: String, uplink: String, bridge: String) -> String {
        """
        table inet \(table) {
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "\(uplink)" oifname "\(bridge)" accept
            }
            chain input {
                type filter hook input priority filter; policy accept;
                iifname "\(bridge)" ct state established,related accept
                iifname "\(bridge)" drop
            }
        }

        """
    }

    /// Loads the rules into network namespace `namespace` (`nft -f`, from a private temporary file).
    public static func install(in namespace: String, table: String, uplink: String, bridge: String) async throws {
        let file = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "flock-\(table)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).nft")
        guard
            FileManager.default.createFile(
                atPath: file, contents: Data(rules(table: table, uplink: uplink, bridge: bridge).utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw RigError("cannot write \(file)") }
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await RigTool.run("ip", ["netns", "exec", namespace, "nft", "-f", file])
    }
}
