import FlockCore
import PropertyBased
import Testing

@Suite struct AddressAllocatorTests {
    /// Moved from FlockQEMUTests' VMSpecTests with the allocator, which replaced `IPv4Subnet.nextFree`.
    @Test func subnetsHandOutHostAddressesInOrder() throws {
        let subnet = try #require(IPv4Subnet("10.77.0.9/24"))
        #expect(subnet.firstHost == "10.77.0.1")
        var fresh = AddressAllocator(subnet: subnet)
        #expect(fresh.allocate() == "10.77.0.2")
        var busy = AddressAllocator(subnet: subnet, taken: ["10.77.0.2", "10.77.0.3"])
        #expect(busy.allocate() == "10.77.0.4")
        let tiny = try #require(IPv4Subnet("192.168.1.0/30"))
        var full = AddressAllocator(subnet: tiny, taken: ["192.168.1.2"])
        #expect(full.allocate() == nil)
        #expect(IPv4Subnet("10.0.0.300/24") == nil)
        #expect(IPv4Subnet("10.0.0.0/31") == nil)
    }

    @Test func aBatchGetsDistinctAddressesUntilTheSubnetIsExhausted() throws {
        // A /29 has hosts .1 to .6; .1 is the first host, .3 the configured gateway.
        var addresses = AddressAllocator(subnet: try #require(IPv4Subnet("10.0.0.0/29")), gateway: "10.0.0.3")
        #expect(addresses.gateway == "10.0.0.3")
        #expect((0..<5).map { _ in addresses.allocate() } == ["10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6", nil])
        #expect(addresses.allocate() == nil, "exhausted stays exhausted")
    }

    @Test func anAddressNoVMHoldsIsHandedOutAgain() throws {
        let subnet = try #require(IPv4Subnet("10.0.0.0/24"))
        var first = AddressAllocator(subnet: subnet)
        let batch = (0..<3).compactMap { _ in first.allocate() }
        #expect(batch == ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
        // The clone at .3 was destroyed: the next launch sees only .2 and .4 taken.
        var next = AddressAllocator(subnet: subnet, taken: ["10.0.0.2", "10.0.0.4"])
        #expect(next.allocate() == "10.0.0.3")
        #expect(next.allocate() == "10.0.0.5")
    }

    @Test func addressesOutsideTheSubnetOrMalformedAreIgnored() throws {
        let subnet = try #require(IPv4Subnet("10.0.1.0/24"))
        var addresses = AddressAllocator(subnet: subnet, taken: ["10.0.0.2", "not an address", "10.0.1.2"])
        #expect(addresses.gateway == "10.0.1.1")
        #expect(addresses.allocate() == "10.0.1.3")
    }

    /// Whatever is taken, the allocator hands out every other host address once, lowest first, and
    /// never the network, the first host, the gateway or broadcast.
    @Test func everyFreeHostAddressExactlyOnce() async {
        let takenGen = Gen.int(in: 0...255).set(ofAtMost: 0...40)
        await propertyCheck(count: 300, input: Gen.int(in: 24...30), takenGen, Gen.int(in: 0...255)) {
            prefix, takenOffsets, gatewayOffset in
            let subnet = try #require(IPv4Subnet("10.9.8.0/\(prefix)"))
            let size = 1 << (32 - prefix)
            let gateway = gatewayOffset % size
            let taken = takenOffsets.map { $0 % size }
            var addresses = AddressAllocator(
                subnet: subnet, gateway: IPv4Subnet.format(subnet.network + UInt32(gateway)),
                taken: taken.map { IPv4Subnet.format(subnet.network + UInt32($0)) })
            var handedOut: [Int] = []
            while let address = addresses.allocate() {
                let value = try #require(IPv4Subnet.parseAddress(address))
                handedOut.append(Int(value - subnet.network))
                try #require(handedOut.count < size, "more addresses than the subnet has")
            }
            let expected = (2..<(size - 1)).filter { $0 != gateway && !taken.contains($0) }
            #expect(handedOut == expected, "prefix \(prefix), gateway +\(gateway), taken \(taken.sorted())")
        }
    }
}
