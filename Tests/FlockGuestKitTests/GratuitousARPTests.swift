import FlockGuestKit
import Testing

@Suite struct GratuitousARPTests {
    @Test func theFrameIsABroadcastRequestForOurOwnAddress() throws {
        let frame = try #require(GratuitousARP.frame(mac: "52:54:00:AB:cd:01", address: "10.77.0.5"))
        let mac: [UInt8] = [0x52, 0x54, 0x00, 0xAB, 0xCD, 0x01]
        let ip: [UInt8] = [10, 77, 0, 5]
        #expect(frame.count == 42)
        #expect(Array(frame[0..<6]) == [UInt8](repeating: 0xFF, count: 6), "to everyone")
        #expect(Array(frame[6..<12]) == mac && Array(frame[12..<14]) == [0x08, 0x06], "from us, ARP")
        #expect(Array(frame[14..<22]) == [0, 1, 8, 0, 6, 4, 0, 1], "Ethernet/IPv4 request")
        #expect(Array(frame[22..<28]) == mac && Array(frame[28..<32]) == ip, "sender: us")
        #expect(Array(frame[32..<38]) == [0, 0, 0, 0, 0, 0] && Array(frame[38..<42]) == ip, "target: our address")
    }

    @Test func badAddressesBuildNoFrame() {
        #expect(GratuitousARP.frame(mac: "52:54:00:ab:cd", address: "10.0.0.1") == nil)
        #expect(GratuitousARP.frame(mac: "52:54:00:ab:cd:01", address: "10.0.0") == nil)
    }

    @Test func addressesAreParsedStrictly() {
        #expect(NetworkAddress.mac("52:54:00:ab:cd:EF") == [0x52, 0x54, 0, 0xAB, 0xCD, 0xEF])
        for bad in [
            "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54:00:ab:cd:+f", "52:54:00:ab:cd:g0", "525400abcdef", "",
        ] {
            #expect(NetworkAddress.mac(bad) == nil, "\(bad)")
        }
        #expect(NetworkAddress.ipv4("192.168.0.255") == [192, 168, 0, 255])
        for bad in ["256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "+1.2.3.4", "1.2.3.0004", " 1.2.3.4", ""] {
            #expect(NetworkAddress.ipv4(bad) == nil, "\(bad)")
        }
    }

    @Test func theWriterNestsFlatObjectsForHookResults() {
        let json = JSONWriter.object([
            ("hooks", .objects([[("name", .string("10-a\u{1b}")), ("exit_status", .integer(0))], []]))
        ])
        #expect(json == #"{"hooks":[{"name":"10-a\u001b","exit_status":0},{}]}"#)
    }
}
