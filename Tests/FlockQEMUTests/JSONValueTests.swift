import Foundation
import Testing

@testable import FlockQEMU

@Suite struct JSONValueTests {
    @Test func booleansAndNumbersStayApart() throws {
        let value = try #require(JSONValue.parse(Data(#"{"a":true,"b":1,"c":"x","d":[null,2.5]}"#.utf8)))
        #expect(value["a"] == .bool(true))
        #expect(value["b"] == .number(1))
        #expect(value["c"]?.stringValue == "x")
        #expect(value["d"] == .array([.null, .number(2.5)]))
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"a":true,"b":1,"c":"x","d":[null,2.5]}"#)
    }

    @Test func garbageIsNil() {
        #expect(JSONValue.parse(Data("{nope".utf8)) == nil)
        #expect(JSONValue.parse(Data([0xff, 0xfe, 0x00])) == nil)
    }
}
