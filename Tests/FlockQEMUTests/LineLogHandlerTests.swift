import FlockQEMU
import Synchronization
import Testing

/// The driver's progress lines can carry guest-written text (a console tail in a warning): it
/// reaches the operator's terminal with its control characters escaped.
@Suite struct LineLogHandlerTests {
    @Test func controlCharactersReachTheLineEscaped() {
        let lines = Mutex<[String]>([])
        let logger = LineLogHandler.logger(label: "t") { line in lines.withLock { $0.append(line) } }
        logger.warning("guest said: \u{1b}[2Jgone\u{07}")
        logger.info("clone flock-web-1 ready in 120 ms")
        #expect(lines.withLock { $0 } == ["guest said: \\u001b[2Jgone\\u0007", "clone flock-web-1 ready in 120 ms"])
    }
}
