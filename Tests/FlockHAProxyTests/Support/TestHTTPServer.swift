import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny threaded HTTP/1.1 server on 127.0.0.1, standing in for a web VM behind HAProxy.
///
/// - `/` answers at once with the server's name, so a test can see which backend served it;
/// - `/slow?ms=N` answers after N milliseconds (at most 60 s), to hold a session open;
/// - `/healthz` answers 200, or 503 once `healthy` is false;
/// - `/fail` answers 500, for 5xx metrics.
///
/// Every connection gets its own thread and is closed after one response.
final class TestHTTPServer: Sendable {
    let name: String
    let port: Int
    private let fd: Int32
    private let state = Mutex(State())

    private struct State {
        var healthy = true
        var served = 0
        var stopped = false
    }

    init(name: String) throws {
        self.name = name
        (fd, port) = try Sockets.listenLoopback()
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "test-http-\(name)"
        thread.start()
    }

    deinit { stop() }

    var healthy: Bool {
        get { state.withLock { $0.healthy } }
        set { state.withLock { $0.healthy = newValue } }
    }

    /// Requests answered on `/` and `/slow` (not health checks).
    var served: Int { state.withLock { $0.served } }

    func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    private func acceptLoop() {
        while !state.withLock({ $0.stopped }) {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let thread = Thread { [self] in handle(client) }
            thread.start()
        }
    }

    private func handle(_ client: Int32) {
        defer { close(client) }
        Sockets.setTimeouts(client, 65)
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 64 * 1024 {
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            request += buffer[0..<count]
            if request.count >= 4, request.suffix(4).elementsEqual([13, 10, 13, 10]) { break }
            if String(decoding: request, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let words = line.split(separator: " ")
        let target = words.count >= 2 ? String(words[1]) : "/"
        let (status, body) = respond(to: target)
        let text =
            "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Type: text/plain\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        try? Sockets.sendAll(client, Array(text.utf8))
    }

    private func respond(to target: String) -> (Int, String) {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        switch path {
        case "/healthz":
            return healthy ? (200, "healthy") : (503, "unhealthy")
        case "/slow":
            let query = target.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
            let ms =
                query.split(separator: "&").compactMap { pair -> Int? in
                    let parts = pair.split(separator: "=")
                    return parts.count == 2 && parts[0] == "ms" ? Int(parts[1]) : nil
                }.first ?? 1000
            usleep(UInt32(min(max(ms, 0), 60_000)) * 1000)
            state.withLock { $0.served += 1 }
            return (200, "slow \(name)")
        case "/fail":
            state.withLock { $0.served += 1 }
            return (500, "failing \(name)")
        default:
            state.withLock { $0.served += 1 }
            return (200, "ok \(name)")
        }
    }
}

/// A blocking HTTP/1.1 GET against 127.0.0.1, run off the cooperative pool.
enum TestHTTPClient {
    struct Response: Sendable {
        var status: Int
        var body: String
    }

    static func get(port: Int, path: String, timeout: TimeInterval = 15) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            // A thread per request: Dispatch's pool is only as wide as the CPU count, and slow
            // requests held open must not queue the others.
            Thread { continuation.resume(with: Result { try getBlocking(port: port, path: path, timeout: timeout) }) }
                .start()
        }
    }

    static func getBlocking(port: Int, path: String, timeout: TimeInterval) throws -> Response {
        let fd = try Sockets.connectLoopback(port: port, timeout: timeout)
        defer { close(fd) }
        try Sockets.sendAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        let text = String(decoding: try Sockets.readAll(fd), as: UTF8.self)
        let statusLine = text.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw SocketFailure("no HTTP status line in answer: \(text.prefix(200))")
        }
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return Response(status: status, body: body)
    }
}
