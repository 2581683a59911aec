import CXenLight
import Logging
import Testing

@testable import FlockXen

/// libxl's printf-style log lines reach Swift formatted, through the shim's xentoollog logger.
@Suite struct XenLogTests {
    @Test func libxlMessagesAreFormattedAndTheLastErrorIsKept() throws {
        let logger = try #require(XenToolLogger(sink: XenLogSink(logger: Logger(label: "test"))))
        withVaList([42, 7]) { xtl_logv(logger.pointer, XTL_ERROR, 2, "libxl", "rc=%d domid %d", $0) }
        #expect(logger.sink.takeLastError() == "rc=42 domid 7: No such file or directory")
        #expect(logger.sink.takeLastError() == nil, "reading clears it")
        withVaList([1]) { xtl_logv(logger.pointer, XTL_WARN, -1, "libxl", "only a warning %d", $0) }
        withVaList([1]) { xtl_logv(logger.pointer, XTL_DEBUG, -1, "libxl", "below the minimum %d", $0) }
        #expect(logger.sink.takeLastError() == nil, "warnings and debug lines are not errors")
    }
}
