import FlockCore
import Foundation
import Testing

/// The agent's reply as every driver reads it: lenient per field, strict about being a reply.
@Suite struct AgentReplyTests {
    @Test func anAckIsReadWithItsFields() throws {
        let reply = try #require(
            AgentReply.parse(
                Data(
                    #"{"type":"ack","hostname":"web-1","clone_id":"c1","generation":3,"applied":["entropy","clock"]}"#
                        .utf8) + Data("\n".utf8)))
        #expect(reply.type == "ack" && reply.hostname == "web-1" && reply.cloneID == "c1")
        #expect(reply.generation == 3 && reply.applied == ["entropy", "clock"])
    }

    @Test func aFieldOfTheWrongTypeReadsAsAbsentAndHidesNothingElse() throws {
        let reply = try #require(
            AgentReply.parse(Data(#"{"type":"ack","generation":"3","applied":[1],"clone_id":"x"}"#.utf8)))
        #expect(reply.cloneID == "x")
        #expect(reply.generation == nil && reply.applied == nil)
    }

    @Test func anythingButAnObjectWithAStringTypeIsNoReply() {
        for text in [#"{"type":1}"#, "[]", #"{"hostname":"h"}"#, "", "not json", #"{"type":"ack""#] {
            #expect(AgentReply.parse(Data(text.utf8)) == nil, "\(text)")
        }
    }

    @Test func hookResultsAreReadAndAFailedHooksTextIsEscaped() throws {
        let ack = try #require(
            AgentReply.parse(
                Data(
                    #"{"type":"ack","clone_id":"c1","applied":[],"hooks":[{"name":"10-ok","status":"exit 0","exit_status":0,"ms":12}]}"#
                        .utf8)))
        #expect(ack.hooks == [AgentReply.Hook(name: "10-ok", status: "exit 0", exitStatus: 0, milliseconds: 12)])
        #expect(ack.hooksSummary == "10-ok (exit 0)")
        let error = try #require(
            AgentReply.parse(
                Data(
                    #"{"type":"error","message":"clone hook 20-fail failed (exit 3)","hooks":[{"name":"20-fail","status":"exit 3","exit_status":3,"output":"bad\u001b[2J\n"}]}"#
                        .utf8)))
        #expect(error.failure == #"clone hook 20-fail failed (exit 3); output: bad\u001b[2J\u000a"#)
        #expect(error.hooks?.last?.output == "bad\u{1b}[2J\n", "the parsed output itself stays as the guest wrote it")
        #expect(AgentReply.parse(Data(#"{"type":"error"}"#.utf8))?.failure == "unspecified error")
    }
}
