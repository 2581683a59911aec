/// An IPv4 subnet, for handing clones addresses on a bridge (QEMU bridge mode, Xen vifs) through
/// `AddressAllocator`.
public struct IPv4Subnet: Sendable, Hashable {
    public var network: UInt32
    public var prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = Self.parseAddress(String(parts[0])), let prefix = Int(parts[1]),
            (8...30).contains(prefix)
        else { return nil }
        self.prefix = prefix
        self.network = address & Self.mask(prefix)
    }

    /// The netmask of a prefix length: `mask(24)` is 255.255.255.0.
    public static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }

    /// The address as a number, or nil unless it is four dotted decimal octets.
    public static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet), String(byte) == octet else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    /// Four dotted decimal octets.
    public static func format(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    /// The first usable address, the conventional gateway.
    public var firstHost: String { Self.format(network + 1) }
}

extension IPv4Subnet {
    /// Whether `address` is in this subnet.
    public func contains(_ address: UInt32) -> Bool { address & Self.mask(prefix) == network }

    /// Whether the two subnets share any address (one contains the other's network).
    public func overlaps(_ other: IPv4Subnet) -> Bool {
        let prefix = min(self.prefix, other.prefix)
        return network & Self.mask(prefix) == other.network & Self.mask(prefix)
    }
}
