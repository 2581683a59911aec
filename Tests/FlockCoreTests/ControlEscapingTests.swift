import FlockCore
import Testing

@Suite struct ControlEscapingTests {
    @Test func controlCharactersBecomeJSONStyleEscapes() {
        #expect("\u{1B}[2Jgone\u{0}\u{7}".escapingControlCharacters == "\\u001b[2Jgone\\u0000\\u0007")
        #expect("a\tb\nc\r".escapingControlCharacters == "a\\u0009b\\u000ac\\u000d")
        #expect("del\u{7F} csi\u{9B}31m \u{85}".escapingControlCharacters == "del\\u007f csi\\u009b31m \\u0085")
    }

    @Test func printableTextIsKeptAsItIs() {
        for text in ["", "clone web-3 failed: agent timeout", "C:\\path \\u001b stays", "café ✓ 雪 \u{A0}"] {
            #expect(text.escapingControlCharacters == text)
        }
    }
}
