import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

/// The host side of the agent protocol against a scripted fake guest.
@Suite struct AgentClientTests {
    @Test func helloIdentityAndPing() async throws {
        let directory = try tmpfsScratch("agent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let received = Locked<[String]>([])
        let server = try FakeSocketServer(directory: directory) { fd in
            FakeSocketServer.write(fd, "{\"type\":\"pong\",\"seq\":99}\n")  // stale output from before we connected
            while let line = FakeSocketServer.readLine(fd) {
                received.withLock { $0.append(line) }
                let message = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
                switch message["type"] as? String {
                case "hello":
                    FakeSocketServer.write(
                        fd,
                        #"{"type":"ready","hostname":"g","boot_id":"b","clone_id":null,"generation":0,"app":"up"}"#
                            + "\n")
                case "identity":
                    FakeSocketServer.write(fd, "garbage\n")
                    let id = message["clone_id"] as? String ?? ""
                    FakeSocketServer.write(
                        fd,
                        #"{"type":"ack","clone_id":"\#(id)","hostname":"\#(id)","applied":["entropy","clock","hostname"]}"#
                            + "\n")
                case "ping":
                    FakeSocketServer.write(fd, #"{"type":"pong","seq":\#(message["seq"] as? Int ?? -1)}"# + "\n")
                default: break
                }
            }
        }
        defer { server.stop() }
        let agent = try await AgentClient.connect(path: server.path, vm: "flock-web-x1")
        defer { agent.close() }
        let ready = try await agent.waitReady(requireApp: true, timeout: .seconds(5))
        #expect(ready.appUp && ready.cloneID == nil && ready.hostname == "g")
        let identity = CloneIdentity.fresh(cloneID: "flock-web-x1", generation: 4)
        let ack = try await agent.applyIdentity(identity, timeout: .seconds(5))
        #expect(ack.applied == ["entropy", "clock", "hostname"])
        #expect(ack.hooks == nil, "an agent without hooks reports none")
        try await agent.ping(seq: 7, timeout: .seconds(5))
        let sent = received.withLock { $0 }
        let identityLine = try #require(sent.first { $0.contains("\"identity\"") })
        let object = try #require(JSONSerialization.jsonObject(with: Data(identityLine.utf8)) as? [String: Any])
        #expect(object["generation"] as? Int == 4)
        #expect((object["time_unix_ns"] as? Int ?? 0) > 1_700_000_000_000_000_000, "nanoseconds as an exact integer")
        #expect(Data(base64Encoded: object["entropy"] as? String ?? "")?.count ?? 0 >= 256)
        #expect(object["network"] == nil, "user mode sends no network")
    }

    @Test func anErrorReplyIsThrownWithTheAgentsMessage() async throws {
        let directory = try tmpfsScratch("agenterr")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            while let line = FakeSocketServer.readLine(fd) {
                if line.contains("identity") {
                    FakeSocketServer.write(fd, #"{"type":"error","message":"sethostname: EPERM"}"# + "\n")
                }
            }
        }
        defer { server.stop() }
        let agent = try await AgentClient.connect(path: server.path, vm: "flock-web-x2")
        defer { agent.close() }
        let error = await #expect(throws: QEMUError.self) {
            try await agent.applyIdentity(.fresh(cloneID: "flock-web-x2", generation: 1), timeout: .seconds(5))
        }
        #expect(error?.message.contains("sethostname: EPERM") == true)
        #expect(error?.message.contains("flock-web-x2") == true)
    }

    @Test func aFailedCloneHookIsThrownWithItsOutputEscaped() async throws {
        let directory = try tmpfsScratch("agenthook")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            while let line = FakeSocketServer.readLine(fd) {
                if line.contains("identity") {
                    FakeSocketServer.write(
                        fd,
                        #"{"type":"error","message":"clone hook 20-fail failed (exit 3)","clone_id":"flock-web-x4","hooks":[{"name":"20-fail","status":"exit 3","exit_status":3,"output":"refused\u001b[2J\n"}]}"#
                            + "\n")
                }
            }
        }
        defer { server.stop() }
        let agent = try await AgentClient.connect(path: server.path, vm: "flock-web-x4")
        defer { agent.close() }
        let error = await #expect(throws: QEMUError.self) {
            try await agent.applyIdentity(.fresh(cloneID: "flock-web-x4", generation: 1), timeout: .seconds(5))
        }
        #expect(
            error?.message
                == #"agent of VM flock-web-x4: clone hook 20-fail failed (exit 3); output: refused\u001b[2J\u000a"#)
    }

    @Test func aSilentGuestTimesOut() async throws {
        let directory = try tmpfsScratch("agentsilent")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            while FakeSocketServer.readLine(fd) != nil {}
        }
        defer { server.stop() }
        let agent = try await AgentClient.connect(path: server.path, vm: "flock-web-x3")
        defer { agent.close() }
        let error = await #expect(throws: QEMUError.self) {
            try await agent.waitReady(requireApp: false, timeout: .milliseconds(300), interval: .milliseconds(100))
        }
        #expect(error?.isTimeout == true)
    }

    /// A hung peer's listener still exists but accepts nobody, so its queue fills: a connect that
    /// waits that out is a timeout (a silent restore, which a new snapshot cures), not a missing socket.
    @Test func aListenerThatNeverAcceptsTimesOut() async throws {
        let directory = try tmpfsScratch("agentfull")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try FakeSocketServer(directory: directory) { fd in
            while FakeSocketServer.readLine(fd) != nil {}
        }
        defer { server.stop() }
        var connected: [AgentClient] = []
        defer { connected.forEach { $0.close() } }
        var failure: QEMUError?
        for _ in 0..<16 where failure == nil {
            do throws(QEMUError) {
                connected.append(
                    try await AgentClient.connect(path: server.path, vm: "flock-web-x5", timeout: .milliseconds(200)))
            } catch {
                failure = error
            }
        }
        let error = try #require(failure, "the listen queue never filled")
        #expect(error.isTimeout, "\(error)")
    }
}
