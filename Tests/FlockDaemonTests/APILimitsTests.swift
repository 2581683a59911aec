import FlockDaemon
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The API's connection cap, idle timeout and body limit, on real loopback sockets.
extension APITests {
    /// A TCP connection to the API that has sent nothing.
    func connect(port: Int) throws -> Int32 {
        let fd = try SocketIO.streamSocket(family: AF_INET)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try SocketIO.connect(
                    fd, to: $0, length: socklen_t(MemoryLayout<sockaddr_in>.size), deadline: .now + .seconds(5))
            }
        }
        return fd
    }

    /// Everything the server sends until it closes the connection, and how long that took; on the
    /// blocking pool, so that the wait never holds up the server's own tasks.
    func readToClose(_ fd: Int32, within limit: Duration) async throws -> (text: String, took: Duration) {
        try await BlockingCalls.run {
            let start = ContinuousClock.now
            let bytes = try SocketIO.receiveAll(fd, limit: 1 << 20, until: start + limit)
            return (String(decoding: bytes, as: UTF8.self), ContinuousClock.now - start)
        }
    }

    @Test func anOversizedBodyIsRefusedWith413AndAJSONError() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool) { port in
            let big = "{\"count\": 2, \"pad\": \"" + String(repeating: "x", count: 70 * 1024) + "\"}"
            let refused = try await HTTP.request(
                "PUT", port: port, "/v1/pools/web/desired", token: APITests.token, body: big)
            #expect(refused.status == 413, "\(refused)")
            #expect(refused.contentType == "application/json")
            #expect(
                refused.json?["error"] as? String
                    == "the request body is larger than flockd accepts (65536 bytes); send a smaller one", "\(refused)")
            #expect(try pool.store.status(pool: "web")?.manualDesired == nil, "nothing was applied")
            // A body within the limit still works.
            let ok = try await HTTP.request(
                "PUT", port: port, "/v1/pools/web/desired", token: APITests.token, body: "{\"count\": 2}")
            #expect(ok.status == 200, "\(ok)")
        }
    }

    /// A chunked body declares no length: it is cut off where the handler reads it.
    @Test func anOversizedChunkedBodyIsRefusedWith413() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool, limits: APILimits(maxBodyBytes: 1024)) { port in
            let fd = try connect(port: port)
            defer { close(fd) }
            let chunk = String(repeating: "x", count: 2048)
            let request =
                "PUT /v1/pools/web/desired HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(APITests.token)\r\n"
                + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "\(String(chunk.utf8.count, radix: 16))\r\n\(chunk)\r\n0\r\n\r\n"
            try SocketIO.sendAll(fd, Array(request.utf8), until: .now + .seconds(5))
            let answer = try await readToClose(fd, within: .seconds(10)).text
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
            #expect(
                answer.contains("{\"error\":\"the request body is larger than flockd accepts (1024 bytes)"), "\(answer)"
            )
        }
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTimeout() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool, limits: APILimits(idleTimeout: .milliseconds(500))) { port in
            // One that never sent a byte, and one left open after a complete request.
            let silent = try connect(port: port)
            defer { close(silent) }
            let kept = try connect(port: port)
            defer { close(kept) }
            try SocketIO.sendAll(
                kept, Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8), until: .now + .seconds(5))
            let silentEnd = try await readToClose(silent, within: .seconds(10))
            #expect(silentEnd.text.isEmpty)
            #expect(silentEnd.took >= .milliseconds(300), "\(silentEnd.took)")
            let keptEnd = try await readToClose(kept, within: .seconds(10))
            #expect(keptEnd.text.hasPrefix("HTTP/1.1 200"), "\(keptEnd.text)")
        }
    }

    /// Idle connections holding every slot delay a new request by about one idle timeout: the
    /// request waits in the listen queue, then is served.
    @Test func connectionsBeyondTheCapWaitForASlotAndAreServed() async throws {
        let pool = try InMemoryPool()
        let limits = APILimits(maxConnections: 3, idleTimeout: .seconds(1))
        try await withServer(pool, limits: limits) { port in
            let idle = try (0..<3).map { _ in try connect(port: port) }
            defer { idle.forEach { close($0) } }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            let health = try await PlainHTTP.get(port: port, "/healthz", timeout: .seconds(10))
            let took = ContinuousClock.now - start
            #expect(health.status == 200)
            // Held out while the cap was full (the idle ones close at 1 s), then served.
            #expect(took >= .milliseconds(500), "the cap did not hold: served in \(took)")
            for fd in idle { #expect(try await readToClose(fd, within: .seconds(5)).text.isEmpty) }
        }
    }
}
