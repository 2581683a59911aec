#if canImport(Glibc)
    import Glibc
#endif

/// A 127.0.0.1 TCP port that was free a moment ago (the kernel picks it).
public func freeLoopbackPort() throws(SocketError) -> Int {
    let (fd, port) = try bindLoopback(type: SOCK_STREAM)
    close(fd)
    return port
}

/// A socket of `type` bound to 127.0.0.1 on a port the kernel picks, with that port; the caller owns `fd`.
public func bindLoopback(type: __socket_type) throws(SocketError) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError(.failed, "socket(): \(errnoText())") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else {
        let reason = errnoText()
        close(fd)
        throw SocketError(.failed, "bind(127.0.0.1:0): \(reason)")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
