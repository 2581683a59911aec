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
}
