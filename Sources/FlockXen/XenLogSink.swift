import CXenLight
import FlockSystem
import Logging
import Synchronization

/// Where libxl's xentoollog messages go: swift-log, at the matching level. The last error is
/// kept so that a failed call's exception can quote what libxl said about it.
final class XenLogSink: Sendable {
    let logger: Logger
    private let last = Mutex<String?>(nil)

    init(logger: Logger) { self.logger = logger }

    /// The most recent error libxl logged, cleared by reading it.
    func takeLastError() -> String? {
        last.withLock { value in
            defer { value = nil }; return value
        }
    }

    func log(level: xentoollog_level, errno: Int32, domain: String?, message: String) {
        let text = errno > 0 ? "\(message): \(errnoText(errno))" : message
        let metadata: Logger.Metadata = ["xen": "\(domain ?? "libxl")"]
        switch level {
        case XTL_ERROR, XTL_CRITICAL:
            last.withLock { $0 = text }
            logger.error("\(text)", metadata: metadata)
        case XTL_WARN: logger.warning("\(text)", metadata: metadata)
        case XTL_NOTICE: logger.notice("\(text)", metadata: metadata)
        case XTL_INFO, XTL_PROGRESS: logger.info("\(text)", metadata: metadata)
        default: logger.debug("\(text)", metadata: metadata)
        }
    }

    /// The C callback the shim's logger calls; `context` is an unretained `XenLogSink`.
    static let callback: flock_xtl_callback = { context, level, errnoval, domain, message in
        guard let context, let message else { return }
        let sink = Unmanaged<XenLogSink>.fromOpaque(context).takeUnretainedValue()
        sink.log(
            level: xentoollog_level(rawValue: UInt32(level)), errno: errnoval,
            domain: domain.map { String(cString: $0) }, message: String(cString: message))
    }
}

/// The shim's xentoollog logger feeding a `XenLogSink`, for `libxl_ctx_alloc`; destroyed with
/// this object, which must outlive the libxl context that logs to it.
final class XenToolLogger: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<xentoollog_logger>
    let sink: XenLogSink
    private let retained: Unmanaged<XenLogSink>

    /// Messages below `minimum` are dropped in C, before any formatting.
    init?(sink: XenLogSink, minimum: xentoollog_level = XTL_DETAIL) {
        let retained = Unmanaged.passRetained(sink)
        guard let pointer = flock_xtl_logger_new(XenLogSink.callback, retained.toOpaque(), Int32(minimum.rawValue))
        else {
            retained.release()
            return nil
        }
        self.pointer = pointer
        self.sink = sink
        self.retained = retained
    }

    deinit {
        xtl_logger_destroy(pointer)
        retained.release()
    }
}
