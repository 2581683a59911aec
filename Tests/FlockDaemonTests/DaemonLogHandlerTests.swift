import FlockDaemon
import Foundation
import Logging
import Testing

/// flockd's log lines never carry a raw control character, whoever wrote the text.
@Suite struct DaemonLogHandlerTests {
    let guest = "agent said \u{1B}[2J\u{7}\u{0}\nFAKE LINE"
    let escaped = "agent said \\u001b[2J\\u0007\\u0000\\u000aFAKE LINE"

    @Test func textLinesEscapeTheMessageAndTheMetadata() {
        let log = CapturedLog()
        log.logger().warning("\(guest)", metadata: ["detail": "\(guest)"])
        let text = log.contents
        // A value with spaces is quoted, and the quoting doubles its backslashes.
        let quoted = escaped.replacingOccurrences(of: "\\", with: "\\\\")
        #expect(text.hasSuffix(" warning flockd-test: \(escaped) detail=\"\(quoted)\"\n"), "\(text)")
        #expect(text.filter { $0 == "\n" }.count == 1, "one event, one line")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test func jsonLinesCarryTheSameEscapes() throws {
        let log = CapturedLog()
        log.logger(format: .json).error("\(guest)", metadata: ["detail": "\(guest)"])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(log.contents.utf8)) as? [String: String])
        #expect(object["message"] == escaped)
        #expect(object["detail"] == escaped)
        #expect(object["level"] == "error")
    }
}
