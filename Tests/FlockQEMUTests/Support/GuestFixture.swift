import FlockCore
import Foundation

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

/// The demo guest image built by `Deploy/guest/build.sh`; tests that boot VMs need it.
enum GuestImage {
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path + "/.build-guest"
    }
    static var kernel: String { root + "/vmlinuz" }
    static var initrd: String { root + "/initrd.img" }

    /// A parent spec for the demo image, TCG (KVM does not run stock guests on these hosts).
    static func spec(name: String, pool: String, memoryMiB: Int = 256) -> VMSpec {
        VMSpec(
            name: name, pool: pool, kernel: kernel, initrd: initrd,
            append: "console=ttyS0 quiet flock.miss_cost_ms=200",
            memoryMiB: memoryMiB, cpus: 1, accelerator: .tcg)
    }
}

/// A tiny HTTP/1.1 client (one request per connection) for the demo app's forwarded port.
enum HTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(
        _ host: String, _ port: Int, _ path: String, timeout: Duration = .seconds(10)
    ) async throws -> Response {
        try await Task.detached { try blockingGet(host, port, path, timeout: timeout) }.value
    }

    static func json(_ host: String, _ port: Int, _ path: String) async throws -> [String: Any] {
        let response = try await get(host, port, path)
        return (try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]) ?? [:]
    }

    private static func blockingGet(_ host: String, _ port: Int, _ path: String, timeout: Duration) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
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
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count
        else {
            throw Failure(description: "send failed")
        }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                throw Failure(description: "recv \(host):\(port)\(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            data += buffer[0..<count]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw Failure(description: "no HTTP header in \(text.prefix(100))")
        }
        let lines = text[..<split.lowerBound].split(separator: "\r\n")
        guard let first = lines.first, let status = Int(first.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure(description: "bad status line")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
