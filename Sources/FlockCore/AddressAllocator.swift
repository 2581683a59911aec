/// Hands clones the host addresses of one subnet, the same way for every driver (QEMU bridge
/// mode, Xen vifs): the lowest free address, never the network, the first host (the conventional
/// gateway), the configured gateway or broadcast.
///
/// Pure: a driver builds one from the addresses its VMs (and its batches still starting) hold and
/// allocates what a launch or batch needs, so an address is free again as soon as no VM holds it.
/// Addresses outside the subnet are ignored, so a driver may pass all it knows.
public struct AddressAllocator: Sendable, Hashable {
    public let subnet: IPv4Subnet
    /// The gateway the clones are told: the configured one, else the subnet's first host.
    public let gateway: String
    private var taken: Set<UInt32>

    /// - Parameters:
    ///   - gateway: the configured gateway, if any; it is never handed out.
    ///   - taken: addresses in use, as dotted octets.
    public init(subnet: IPv4Subnet, gateway: String? = nil, taken: some Sequence<String> = []) {
        self.subnet = subnet
        self.gateway = gateway ?? subnet.firstHost
        self.taken = Set(taken.compactMap(IPv4Subnet.parseAddress))
        if let gateway = IPv4Subnet.parseAddress(self.gateway) { self.taken.insert(gateway) }
    }

    /// The lowest free host address, now taken; nil when the subnet is full.
    public mutating func allocate() -> String? {
        let size = UInt32(1) << UInt32(32 - subnet.prefix)
        // Offsets 0, 1 and size - 1 are the network, the first host and broadcast.
        for offset in 2..<(size - 1) where !taken.contains(subnet.network + offset) {
            taken.insert(subnet.network + offset)
            return IPv4Subnet.format(subnet.network + offset)
        }
        return nil
    }
}
