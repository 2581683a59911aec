import FlockSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct LoopbackPortTests {
    /// The port is a real, unprivileged port that can be bound again right away.
    @Test func aFreePortCanBeBound() throws {
        let port = try freeLoopbackPort()
        #expect((1024...65535).contains(port))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0, "port \(port) was not free: \(errnoText())")
    }

    /// A bound socket keeps its port: a second one gets another.
    @Test func aHeldPortIsNotHandedOutAgain() throws {
        let (fd, port) = try bindLoopback(type: SOCK_DGRAM)
        defer { close(fd) }
        let (other, otherPort) = try bindLoopback(type: SOCK_DGRAM)
        defer { close(other) }
        #expect(port != otherPort)
    }
}
