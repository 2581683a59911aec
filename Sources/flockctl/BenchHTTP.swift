import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 GET (one request per connection) against a VM's forwarded port.
///
/// The bench times requests itself, so it needs a client with no pooling, retries or caching
/// between it and the guest. The socket calls block, so they run on GCD threads: the Swift
/// concurrency pool has one thread per core, and a poller blocking it would stall the driver
/// whose clones it is timing.
enum BenchHTTP {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
        /// From just before `connect` to the end of the response.
        var milliseconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(_ host: String, _ port: Int, _ path: String, timeout: Duration) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try blockingGet(host, port, path, timeout: timeout) })
            }
        }
    }

    private static func blockingGet(
        _ host: String, _ port: Int, _ path: String, timeout: Duration
    ) throws
        -> Response
    {
        let started = ContinuousClock.now
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let micros = max(Int(BenchMath.milliseconds(timeout) * 1000), 1000)
        var limit = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(description: "connect \(host):\(port): \(String(cString: strerror(errno)))")
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { throw Failure(description: "send to \(host):\(port) failed") }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 { throw Failure(description: "recv \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            data += buffer[0..<count]
        }
        let elapsed = BenchMath.milliseconds(ContinuousClock.now - started)
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw Failure(description: "no HTTP response from \(host):\(port)\(path)")
        }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let first = lines.first, let status = Int(first.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure(description: "bad status line from \(host):\(port)\(path)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(
            status: status, headers: headers, body: String(text[split.upperBound...]), milliseconds: elapsed)
    }
}
