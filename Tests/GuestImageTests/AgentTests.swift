import Foundation
import Testing

extension GuestImageTests {
    /// flock-agent over the VM's virtio-serial socket, speaking the protocol as the host does.
    @Suite struct Agent {
        @Test func helloReportsReadyWithTheAppUp() throws {
            let agent = try AgentClient(socketPath: try guest().agentSocket)
            let ready = try agent.handshake()
            #expect(ready["type"] as? String == "ready")
            #expect(ready["app"] as? String == "up")
            #expect((ready["boot_id"] as? String)?.count == 36)
            #expect(ready["generation"] is Int)
        }

        @Test func pingGetsPongWithTheSameSeq() throws {
            let agent = try AgentClient(socketPath: try guest().agentSocket)
            _ = try agent.handshake()
            for seq in [1, 42, 9_000_000_000] {
                let pong = try agent.request(json: ["type": "ping", "seq": seq])
                #expect(pong["type"] as? String == "pong")
                #expect(pong["seq"] as? Int == seq)
            }
        }

        @Test func identityIsAppliedAndSeenByTheApp() throws {
            let vm = try guest()
            let agent = try AgentClient(socketPath: vm.agentSocket)
            _ = try agent.handshake()
            let suffix = UUID().uuidString.prefix(6).lowercased()
            let cloneID = "flock-web-\(suffix)"
            var rng = SystemRandomNumberGenerator()
            let entropy = (0..<256).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            let before = try #require(try HTTPConnection(port: vm.httpPort).get("/identity").json)

            let ack = try agent.request(json: [
                "type": "identity", "clone_id": cloneID, "generation": 7, "hostname": cloneID,
                "entropy": Data(entropy).base64EncodedString(),
                "time_unix_ns": Int(Date().timeIntervalSince1970 * 1e9),
            ])
            #expect(ack["type"] as? String == "ack", "\(ack)")
            #expect(ack["clone_id"] as? String == cloneID)
            #expect(ack["applied"] as? [String] == ["entropy", "clock", "hostname"])

            let connection = try HTTPConnection(port: vm.httpPort)
            let stats = try #require(try connection.get("/stats").json)
            #expect(stats["clone_id"] as? String == cloneID)
            #expect(stats["generation"] as? Int == 7)
            let identity = try #require(try connection.get("/identity").json)
            #expect(identity["hostname"] as? String == cloneID)
            #expect(identity["clone_id"] as? String == cloneID)
            #expect(identity["random"] as? String != before["random"] as? String)
            #expect((identity["random"] as? String)?.count == 64)

            let ready = try agent.handshake()
            #expect(ready["clone_id"] as? String == cloneID)
            #expect(ready["hostname"] as? String == cloneID)
        }

        @Test func badIdentityIsRefusedAndChangesNothing() throws {
            let vm = try guest()
            let agent = try AgentClient(socketPath: vm.agentSocket)
            _ = try agent.handshake()
            let before = try #require(try HTTPConnection(port: vm.httpPort).get("/stats").json)
            let refused = try agent.request(json: [
                "type": "identity", "clone_id": "flock-web-short", "generation": 99, "hostname": "flock-web-short",
                "entropy": Data([1, 2, 3]).base64EncodedString(), "time_unix_ns": 1,
            ])
            #expect(refused["type"] as? String == "error")
            #expect((refused["message"] as? String)?.contains("entropy") == true)
            let after = try #require(try HTTPConnection(port: vm.httpPort).get("/stats").json)
            #expect(after["generation"] as? Int == before["generation"] as? Int)
            #expect(after["hostname"] as? String == before["hostname"] as? String)
        }

        @Test func malformedLinesGetErrorsAndTheAgentKeepsAnswering() throws {
            let agent = try AgentClient(socketPath: try guest().agentSocket)
            _ = try agent.handshake()
            let inputs: [[UInt8]] = [
                Array("{not json".utf8), [0xFF, 0xFE, 0x00], Array("[1,2,3]".utf8),
                Array(String(repeating: "[", count: 500).utf8), Array(#"{"type":"launch-missiles"}"#.utf8),
                Array(#"{"type":"ping","seq":"x"}"#.utf8), Array(repeating: UInt8(ascii: "a"), count: 70_000),
            ]
            for input in inputs {
                let reply = try agent.request(bytes: input)
                #expect(reply["type"] as? String == "error", "\(reply)")
                #expect(reply["message"] is String)
            }
            let pong = try agent.request(#"{"type":"ping","seq":5}"#)
            #expect(pong["type"] as? String == "pong")
            #expect(pong["seq"] as? Int == 5)
        }

        @Test func agentSurvivesTheHostDisconnectingMidLine() throws {
            let path = try guest().agentSocket
            do {
                let first = try AgentClient(socketPath: path)
                try Sockets.sendAll(first.fd, Array(#"{"type":"pi"#.utf8))
            }
            // The next host's handshake copes with whatever the fragment left behind.
            let second = try AgentClient(socketPath: path)
            let ready = try second.handshake()
            #expect(ready["app"] as? String == "up")
            let pong = try second.request(#"{"type":"ping","seq":77}"#)
            #expect(pong["type"] as? String == "pong")
            #expect(pong["seq"] as? Int == 77)
        }
    }
}
