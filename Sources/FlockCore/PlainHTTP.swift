import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client for Flock's own services (flockd's API, the demo app in a VM, a Xen
/// guest's health check): one request per connection to an IPv4 address, bounded by a timeout,
/// on a thread of its own so that a hung peer never blocks Swift's cooperative pool.
public enum PlainHTTP {
    public struct Response: Sendable {
        public var status: Int
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: Data
        public var text: String { String(decoding: body, as: UTF8.self) }
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    public static func request(
        _ method: String, host: String = "127.0.0.1", port: Int, _ path: String, headers: [String: String] = [:],
        body: String? = nil, timeout: Duration = .seconds(10)
    ) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(
                        returning: try exchange(
                            method, host: host, port: port, path, headers: headers, body: body, timeout: timeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "flock-http"
            thread.start()
        }
    }

    public static func get(
        host: String = "127.0.0.1", port: Int, _ path: String, timeout: Duration = .seconds(10)
    ) async throws -> Response {
        try await request("GET", host: host, port: port, path, timeout: timeout)
    }

    private static func exchange(
        _ method: String, host: String, port: Int, _ path: String, headers: [String: String], body: String?,
        timeout: Duration
    ) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FlockError.unavailable("socket(): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Sub-second timeouts count (a zero timeval would mean "wait forever"); 1 ms at least.
        let micros = max(
            Int(timeout.components.seconds) * 1_000_000 + Int(timeout.components.attoseconds / 1_000_000_000_000), 1000)
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw FlockError.unavailable("'\(host)' is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw FlockError.unavailable("connect \(host):\(port): \(String(cString: strerror(errno)))")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let payload = Array((body ?? "").utf8)
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + payload
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw FlockError.unavailable("send to \(host):\(port) failed") }
            sent += n
        }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while data.count < 16 * 1024 * 1024 {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                throw FlockError.unavailable("recv \(host):\(port)\(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            data += buffer[0..<count]
        }
        return try parse(data, path: path)
    }

    /// Splits a whole response (the server closed the connection) into status, headers, body;
    /// de-chunks a chunked body.
    static func parse(_ data: [UInt8], path: String) throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let split = data.firstRange(of: separator) else {
            throw FlockError.unavailable("\(path): no HTTP header in the answer")
        }
        let headText = String(decoding: data[..<split.lowerBound], as: UTF8.self)
        let lines = headText.components(separatedBy: "\r\n")
        guard let first = lines.first, let status = Int(first.split(separator: " ").dropFirst().first ?? "") else {
            throw FlockError.unavailable("\(path): bad status line")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(data[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return Response(status: status, headers: headers, body: Data(body))
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let end = min(start + size, bytes.count)
            out += bytes[start..<end]
            index = end + 2
        }
        return out
    }
}
