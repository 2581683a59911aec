import Glibc

/// Probes the demo app the way the host's balancer will: `GET /healthz` on 127.0.0.1:8080,
/// expecting a 200. Bounded by a short timeout so a wedged app cannot stall the agent.
enum AppHealth {
    static let port: UInt16 = 8080
    static let timeoutMs: Int32 = 500

    static func isUp() -> Bool {
        let fd = socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            guard errno == EINPROGRESS, waitFor(fd, events: Int16(POLLOUT)) else { return false }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return false }
        }
        let request = Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { return false }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while response.count < 12 {
            guard waitFor(fd, events: Int16(POLLIN)) else { return false }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            response.append(contentsOf: chunk[0..<n])
        }
        let statusLine = String(decoding: response.prefix(12), as: UTF8.self)
        return statusLine.hasPrefix("HTTP/1.") && statusLine.hasSuffix(" 200")
    }

    private static func waitFor(_ fd: Int32, events: Int16) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return poll(&entry, 1, timeoutMs) == 1 && entry.revents & events != 0
    }
}
