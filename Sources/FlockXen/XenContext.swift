import CXenLight
import Dispatch
import Foundation
import Logging

/// One libxl context and one xenstore connection, used only from one serial queue.
///
/// libxl calls are made synchronously (NULL `ao_how`: libxl runs its own event loop inside the
/// call until the operation is done), which can take seconds (a domain build, a checkpoint), so
/// they run on this queue's thread, never on Swift's cooperative pool; the queue also keeps the
/// context from being used by two threads at once.
final class XenContext: @unchecked Sendable {
    /// Xen's privileged command interface; it exists only in a domain running on Xen.
    static let privcmd = "/dev/xen/privcmd"

    private let ctx: OpaquePointer
    private let xs: OpaquePointer
    private let xtl: UnsafeMutablePointer<xentoollog_logger>
    let sink: XenLogSink
    private let retainedSink: Unmanaged<XenLogSink>
    private let queue = DispatchQueue(label: "flock.xen.libxl")

    private init(
        ctx: OpaquePointer, xs: OpaquePointer, xtl: UnsafeMutablePointer<xentoollog_logger>, sink: XenLogSink,
        retained: Unmanaged<XenLogSink>
    ) {
        self.ctx = ctx
        self.xs = xs
        self.xtl = xtl
        self.sink = sink
        self.retainedSink = retained
    }

    deinit {
        libxl_ctx_free(ctx)
        xs_close(xs)
        xtl_logger_destroy(xtl)
        retainedSink.release()
    }

    /// Connects to libxl and xenstored, or says clearly why this host cannot run Xen domains.
    static func open(logger: Logger) throws(XenError) -> XenContext {
        guard FileManager.default.fileExists(atPath: privcmd) else {
            throw .notRunning(
                checked: "\(privcmd) does not exist",
                detail: "this kernel is not running as a Xen domain (no privileged command interface)")
        }
        let sink = XenLogSink(logger: logger)
        let retained = Unmanaged.passRetained(sink)
        guard let xtl = flock_xtl_logger_new(XenLogSink.callback, retained.toOpaque(), Int32(XTL_DETAIL.rawValue))
        else {
            retained.release()
            throw .io("cannot allocate libxl's logger")
        }
        var ctx: OpaquePointer?
        let rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, xtl)
        guard rc == 0, let ctx else {
            xtl_logger_destroy(xtl)
            retained.release()
            throw .notRunning(
                checked: "libxl_ctx_alloc returned \(libxlErrorName(rc))",
                detail: sink.takeLastError() ?? "libxl could not open the hypervisor interfaces (not dom0?)")
        }
        guard let xs = xs_open(0) else {
            let reason = String(cString: strerror(errno))
            libxl_ctx_free(ctx)
            xtl_logger_destroy(xtl)
            retained.release()
            throw .notRunning(checked: "xs_open(0) failed", detail: "cannot reach xenstored (\(reason))")
        }
        return XenContext(ctx: ctx, xs: xs, xtl: xtl, sink: sink, retained: retained)
    }

    /// Runs `body` on the libxl queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (Handles) throws(XenError) -> T) async throws(XenError) -> T {
        let handles = Handles(ctx: ctx, xs: xs, sink: sink)
        let result: Result<T, XenError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(XenError) -> T in try body(handles) })
            }
        }
        return try result.get()
    }

    /// What code on the queue may use; valid only inside `run`.
    struct Handles: @unchecked Sendable {
        let ctx: OpaquePointer
        let xs: OpaquePointer
        let sink: XenLogSink

        /// Throws a `XenError.libxl` quoting libxl's last logged error when `rc` is not 0.
        func check(_ rc: Int32, _ call: String, _ context: String) throws(XenError) {
            guard rc != 0 else { return }
            throw .libxl(call, rc: rc, context, lastLog: sink.takeLastError())
        }
    }
}
