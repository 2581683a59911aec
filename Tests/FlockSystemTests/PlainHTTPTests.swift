import FlockCore
import FlockSystem
import Foundation
import Testing

@Suite struct PlainHTTPTests {
    @Test func aGetReadsStatusHeadersAndBody() async throws {
        let server = try OneShotServer(
            answer:
                "HTTP/1.1 201 Created\r\nX-Flock: yes\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}")
        defer { server.stop() }
        let response = try await PlainHTTP.get(port: server.port, "/v1/pools?x=1", timeout: .seconds(30))
        #expect(response.status == 201)
        #expect(response.headers["x-flock"] == "yes")
        #expect(response.json?["ok"] as? Bool == true)
        #expect(server.request.hasPrefix("GET /v1/pools?x=1 HTTP/1.1\r\n"))
        #expect(server.request.contains("Host: 127.0.0.1:\(server.port)\r\n"))
    }

    @Test func aChunkedBodyIsJoined() async throws {
        let server = try OneShotServer(
            answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        defer { server.stop() }
        let response = try await PlainHTTP.get(port: server.port, "/", timeout: .seconds(30))
        #expect(response.text == "hello world")
    }

    @Test func aRequestSendsItsBodyAndHeaders() async throws {
        let server = try OneShotServer(answer: "HTTP/1.1 204 No Content\r\n\r\n")
        defer { server.stop() }
        let response = try await PlainHTTP.request(
            "POST", port: server.port, "/v1/pools/web/desired", headers: ["Authorization": "Bearer t"],
            body: #"{"desired":3}"#, timeout: .seconds(30))
        #expect(response.status == 204)
        #expect(server.request.hasPrefix("POST /v1/pools/web/desired HTTP/1.1\r\n"))
        #expect(server.request.contains("Authorization: Bearer t\r\n"))
        #expect(server.request.contains("Content-Length: 13\r\n"))
    }

    /// A peer that accepts and never answers costs the timeout, not more, and a located error.
    @Test func aSilentPeerTimesOut() async throws {
        let server = try OneShotServer(answer: nil)
        defer { server.stop() }
        let started = ContinuousClock.now
        await #expect(throws: FlockError.self) {
            try await PlainHTTP.get(port: server.port, "/slow", timeout: .milliseconds(300))
        }
        // Generous for a loaded machine; without the timeout the server would hold the connection for ever.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func aClosedPortIsRefused() async throws {
        let port = try freeLoopbackPort()
        do {
            _ = try await PlainHTTP.get(port: port, "/", timeout: .seconds(2))
            Issue.record("a GET to a closed port succeeded")
        } catch {
            #expect("\(error)".contains("connect 127.0.0.1:\(port)"), "\(error)")
        }
    }

    @Test func aHostThatIsNotAnIPv4AddressIsRefused() async throws {
        await #expect(throws: FlockError.self) { try await PlainHTTP.get(host: "localhost", port: 80, "/") }
    }
}
