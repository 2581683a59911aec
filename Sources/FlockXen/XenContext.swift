import CXenLight
import Dispatch
import FlockSystem
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
    /// Released after the context is freed (stored properties go after `deinit`'s body).
    private let xtl: XenToolLogger
    private let queue = DispatchQueue(label: "flock.xen.libxl")

    private init(ctx: OpaquePointer, xs: OpaquePointer, xtl: XenToolLogger) {
        self.ctx = ctx
        self.xs = xs
        self.xtl = xtl
    }

    deinit {
        libxl_ctx_free(ctx)
        xs_close(xs)
    }

    /// Connects to libxl and xenstored, or says clearly why this host cannot run Xen domains.
    static func open(logger: Logger) throws(XenError) -> XenContext {
        guard FileManager.default.fileExists(atPath: privcmd) else {
            throw .notRunning(
                checked: "\(privcmd) does not exist",
                detail: "this kernel is not running as a Xen domain (no privileged command interface)")
        }
        guard let xtl = XenToolLogger(sink: XenLogSink(logger: logger)) else {
            throw .io("cannot allocate libxl's logger")
        }
        var ctx: OpaquePointer?
        let rc = libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, xtl.pointer)
        guard rc == 0, let ctx else {
            throw .notRunning(
                checked: "libxl_ctx_alloc returned \(libxlErrorName(rc))",
                detail: xtl.sink.takeLastError() ?? "libxl could not open the hypervisor interfaces (not dom0?)")
        }
        guard let xs = xs_open(0) else {
            let reason = errnoText()
            libxl_ctx_free(ctx)
            throw .notRunning(checked: "xs_open(0) failed", detail: "cannot reach xenstored (\(reason))")
        }
        return XenContext(ctx: ctx, xs: xs, xtl: xtl)
    }

    /// Runs `body` on the libxl queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (Handles) throws(XenError) -> T) async throws(XenError) -> T {
        let handles = Handles(ctx: ctx, xs: xs, sink: xtl.sink)
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
