import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

/// The QMP client against a real QEMU with no guest, and against a fake server for what QEMU
/// itself would never send.
@Suite struct QMPClientTests {
    @Test func negotiatesAndRunsCommands() async throws {
        let qemu = try await BareQEMU("qmp")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        #expect(client.greeting["QMP"]?["version"]?["qemu"]?["major"]?.intValue ?? 0 >= 7)
        let status = try await client.execute("query-status")
        #expect(status["status"]?.stringValue == "prelaunch")
    }

    @Test func qmpErrorsNameTheCommandAndClass() async throws {
        let qemu = try await BareQEMU("qmperr")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        let error = await #expect(throws: QEMUError.self) { try await client.execute("no-such-command") }
        #expect(error?.qmpClass == "CommandNotFound")
        #expect(error?.message.contains("no-such-command") == true)
        let badArgument = await #expect(throws: QEMUError.self) {
            try await client.execute(
                "migrate-set-capabilities", arguments: ["capabilities": [["capability": "bogus", "state": true]]])
        }
        #expect(badArgument?.isCommandError == true)
        // The connection still works after errors.
        #expect(try await client.execute("query-status")["running"] == .bool(false))
    }

    @Test func concurrentCallersEachGetTheirAnswer() async throws {
        let qemu = try await BareQEMU("qmpconc")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        let names = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index % 2 == 0 {
                        return try await client.execute("query-status")["status"]?.stringValue
                    }
                    return try await client.execute("query-name").description
                }
            }
            var results: [String?] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(names.count == 40)
        #expect(names.filter { $0 == "prelaunch" }.count == 20)
    }

    @Test func eventsAreDeliveredAndWaitable() async throws {
        let qemu = try await BareQEMU("qmpev")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        let resume = try await client.waitForEvent("RESUME", timeout: .seconds(5)) { () throws(QEMUError) in
            try await client.execute("cont")
        }
        #expect(resume.name == "RESUME")
        #expect(resume.timestamp > 0)
        let stream = client.events()
        try await client.execute("stop")
        var iterator = stream.makeAsyncIterator()
        let next = await iterator.next()
        #expect(next?.name == "STOP")
    }

    @Test func waitingForAnEventThatNeverComesTimesOut() async throws {
        let qemu = try await BareQEMU("qmpwait")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        let error = await #expect(throws: QEMUError.self) {
            try await client.waitForEvent("SHUTDOWN", timeout: .milliseconds(200))
        }
        #expect(error?.isTimeout == true)
    }

    @Test func quitEndsTheConnectionAndLaterCommandsFailClearly() async throws {
        let qemu = try await BareQEMU("qmpquit")
        defer { qemu.stop() }
        let client = try await QMPClient.connect(path: qemu.qmpPath)
        defer { client.close() }
        let stream = client.events()
        try await client.execute("quit")
        for await _ in stream {}  // ends when QEMU closes the socket
        #expect(client.isClosed)
        let error = await #expect(throws: QEMUError.self) { try await client.execute("query-status") }
        #expect(error?.isDisconnected == true)
    }

    @Test func connectingToNothingFailsWithThePath() async throws {
        let directory = try tmpfsScratch("qmpnone")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = await #expect(throws: QEMUError.self) {
            try await QMPClient.connect(path: "\(directory)/missing.sock", timeout: .milliseconds(200))
        }
        #expect(error?.message.contains("missing.sock") == true)
    }

    @Test func aSilentServerTimesOutEachCommand() async throws {
        let directory = try tmpfsScratch("qmpsilent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            FakeSocketServer.write(fd, #"{"QMP": {"version": {}, "capabilities": []}}"# + "\n")
            if let line = FakeSocketServer.readLine(fd), let id = FakeSocketServer.id(of: line) {
                FakeSocketServer.write(fd, #"{"return": {}, "id": \#(id)}"# + "\n")
            }
            while FakeSocketServer.readLine(fd) != nil {}  // never answers again
        }
        defer { server.stop() }
        let client = try await QMPClient.connect(path: server.path, timeout: .seconds(2))
        defer { client.close() }
        let error = await #expect(throws: QEMUError.self) {
            try await client.execute("query-status", timeout: .milliseconds(150))
        }
        #expect(error?.isTimeout == true)
        #expect(error?.message.contains("query-status") == true)
    }

    @Test func noGreetingIsAProtocolError() async throws {
        let directory = try tmpfsScratch("qmpnogreet")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            FakeSocketServer.write(fd, "HTTP/1.1 200 OK\r\n\r\nhello\n")
        }
        defer { server.stop() }
        let error = await #expect(throws: QEMUError.self) {
            try await QMPClient.connect(path: server.path, timeout: .seconds(2))
        }
        #expect(error?.isProtocolViolation == true)
    }

    /// Random bytes, invalid JSON, wrong shapes, unknown ids and an over-long line, interleaved
    /// with real answers: the client must skip the junk, answer what it can, and never crash.
    @Test(arguments: [1, 2, 3, 4, 5, 6]) func survivesGarbage(seed: Int) async throws {
        let directory = try tmpfsScratch("qmpfuzz")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            var generator = SeededGenerator(seed: UInt64(seed))
            func junk() -> [UInt8] {
                switch Int.random(in: 0..<6, using: &generator) {
                case 0:
                    return (0..<Int.random(in: 1..<300, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
                case 1: return Array(#"{"return": {}, "id": 999999}"#.utf8) + [10]
                case 2: return Array("[1,2,3]\n{\"event\": 5}\n{\"id\": \"x\"}\n".utf8)
                case 3: return Array(#"{"error": {"class": 7}}"#.utf8) + [10]
                case 4: return [UInt8](repeating: UInt8(ascii: "a"), count: 70_000)
                default: return Array("\u{0}\u{1}{\"event\":\"JUNK\"}\n".utf8)
                }
            }
            FakeSocketServer.write(fd, junk())
            FakeSocketServer.write(fd, "\n" + #"{"QMP": {"version": {}, "capabilities": []}}"# + "\n")
            while let line = FakeSocketServer.readLine(fd) {
                FakeSocketServer.write(fd, junk())
                FakeSocketServer.write(fd, [10])
                guard let id = FakeSocketServer.id(of: line) else { continue }
                FakeSocketServer.write(fd, #"{"return": {"ok": \#(id)}, "id": \#(id)}"# + "\n")
            }
        }
        defer { server.stop() }
        let client = try await QMPClient.connect(path: server.path, timeout: .seconds(3))
        defer { client.close() }
        var answered = 0
        for _ in 0..<20 {
            if let value = try? await client.execute("query-status", timeout: .seconds(2)), value["ok"] != nil {
                answered += 1
            }
        }
        #expect(answered == 20)
        #expect(client.ignoredMessages > 0)
    }
}

/// A deterministic generator, so a failing fuzz case can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
