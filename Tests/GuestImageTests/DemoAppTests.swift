import Foundation
import Testing

extension GuestImageTests {
    /// flock-demo-app as a client sees it through QEMU's port forward.
    @Suite struct DemoApp {
        @Test func healthzAnswersOK() throws {
            let response = try HTTPConnection(port: try guest().httpPort).get("/healthz")
            #expect(response.status == 200)
            #expect(response.text == "ok\n")
        }

        @Test func itemIsAMissThenAHitAndStatsCountBoth() throws {
            let connection = try HTTPConnection(port: try guest().httpPort)
            let before = try #require(try connection.get("/stats").json)
            let key = "key-\(UUID().uuidString.prefix(8))"
            let first = try connection.get("/item/\(key)")
            let second = try connection.get("/item/\(key)")
            let after = try #require(try connection.get("/stats").json)

            #expect(first.status == 200)
            #expect(first.headers["x-cache"] == "miss")
            #expect(second.status == 200)
            #expect(second.headers["x-cache"] == "hit")
            // Deterministic from the key: a hit returns exactly what the miss computed.
            #expect(first.json?["value"] as? String == second.json?["value"] as? String)
            #expect((after["misses"] as? Int) == (before["misses"] as? Int).map { $0 + 1 })
            #expect((after["hits"] as? Int) == (before["hits"] as? Int).map { $0 + 1 })
        }

        @Test func unknownPathIs404AndOtherMethodsAre405() throws {
            let connection = try HTTPConnection(port: try guest().httpPort)
            #expect(try connection.get("/nope").status == 404)
            let post = try connection.send(raw: Array("POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".utf8))
            #expect(post.status == 405)
            // The body was consumed, so the same connection still frames the next request.
            #expect(try connection.get("/healthz").status == 200)
        }

        @Test func concurrentClientsAllGet200() throws {
            let port = try guest().httpPort
            let clients = 8
            let requestsPerClient = 5
            let lock = NSLock()
            nonisolated(unsafe) var statuses: [Int] = []
            nonisolated(unsafe) var failures: [String] = []
            let group = DispatchGroup()
            for client in 0..<clients {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    do {
                        // Each client keeps one connection alive for all its requests.
                        let connection = try HTTPConnection(port: port)
                        for request in 0..<requestsPerClient {
                            let status = try connection.get("/item/c\(client)-r\(request % 2)").status
                            lock.lock()
                            statuses.append(status)
                            lock.unlock()
                        }
                    } catch {
                        lock.lock()
                        failures.append("client \(client): \(error)")
                        lock.unlock()
                    }
                }
                thread.start()
            }
            #expect(group.wait(timeout: .now() + 120) == .success)
            lock.lock()
            defer { lock.unlock() }
            #expect(failures.isEmpty, "\(failures)")
            #expect(statuses.count == clients * requestsPerClient)
            #expect(statuses.allSatisfy { $0 == 200 })
        }

        @Test func garbageGets400AndTheServerCarriesOn() throws {
            let port = try guest().httpPort
            let garbage = try HTTPConnection(port: port)
            let response = try garbage.send(raw: [0xFF, 0x00, 0x13] + Array(" nonsense\r\n\r\n".utf8))
            #expect(response.status == 400)
            #expect(response.headers["connection"] == "close")
            #expect(garbage.isClosedByPeer())

            let tooLarge = try HTTPConnection(port: port)
            let header = "X-Filler: " + String(repeating: "a", count: 9000)
            #expect(try tooLarge.send(raw: Array("GET /healthz HTTP/1.1\r\n\(header)\r\n\r\n".utf8)).status == 431)

            let badKey = try HTTPConnection(port: port).get("/item/\(String(repeating: "k", count: 300))")
            #expect(badKey.status == 400)

            #expect(try HTTPConnection(port: port).get("/healthz").status == 200)
        }
    }
}
