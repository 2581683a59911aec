import FlockCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client for Flock's own services (flockd's API, the demo app in a VM, a Xen
/// guest's health check): one request per connection to an IPv4 address, bounded by a timeout,
/// on the shared blocking pool (`BlockingCalls`) so that a hung peer never blocks Swift's cooperative pool.
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
        // The deadline starts now, so time queued for the blocking pool counts against the timeout.
        let deadline = ContinuousClock.now + timeout
        return try await BlockingCalls.run {
            try exchange(method, host: host, port: port, path, headers: headers, body: body, deadline: deadline)
        }
    }

    public static func get(
        host: String = "127.0.0.1", port: Int, _ path: String, timeout: Duration = .seconds(10)
    ) async throws -> Response {
        try await request("GET", host: host, port: port, path, timeout: timeout)
    }

    /// Connect, send and read to the peer's close, all by one deadline.
    private static func exchange(
        _ method: String, host: String, port: Int, _ path: String, headers: [String: String], body: String?,
        deadline: ContinuousClock.Instant
    ) throws -> Response {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw FlockError.unavailable("'\(host)' is not an IPv4 address")
        }
        let fd: Int32
        do {
            fd = try SocketIO.streamSocket(family: AF_INET)
        } catch {
            throw FlockError.unavailable(error.message)
        }
        defer { close(fd) }
        do {
            try withUnsafePointer(to: &address) { pointer throws(SocketError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(SocketError) in
                    try SocketIO.connect(
                        fd, to: sa, length: socklen_t(MemoryLayout<sockaddr_in>.size), deadline: deadline)
                }
            }
        } catch {
            throw FlockError.unavailable("connect \(host):\(port): \(error.message)")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let payload = Array((body ?? "").utf8)
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        do {
            try SocketIO.sendAll(fd, Array((head + "\r\n").utf8) + payload, until: deadline)
        } catch {
            throw FlockError.unavailable("send to \(host):\(port) failed: \(error.message)")
        }
        let data: [UInt8]
        do {
            data = try SocketIO.receiveAll(fd, limit: 16 * 1024 * 1024, until: deadline, complete: isComplete)
        } catch {
            throw FlockError.unavailable("recv \(host):\(port)\(path): \(error.message)")
        }
        return try parse(data, path: path)
    }

    /// True once `data` holds a head and the `Content-Length` it declares: some servers
    /// (chromedriver) keep the connection open despite `Connection: close`. Without a length the
    /// answer ends when the server closes.
    static func isComplete(_ data: [UInt8]) -> Bool {
        guard let split = data.firstRange(of: [13, 10, 13, 10] as [UInt8]) else { return false }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).lowercased()
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            guard let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
            else { return false }
            return data.count - split.upperBound >= length
        }
        return false
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
