import Hummingbird
import HummingbirdCore
import NIOCore

/// What one client may take of the API, so that a stuck or hostile client cannot exhaust flockd.
///
/// They map onto Hummingbird's own settings: the connection cap is its
/// `MaximumAvailableConnections` (beyond the cap flockd stops accepting, and new connections wait
/// in the kernel's listen queue until one closes), the idle timeout is `HTTP1Channel`'s (a
/// connection with no request in progress, including one that never sent a byte, is closed), and
/// request bodies are refused past `maxBodyBytes` with 413 (`BodyLimitMiddleware`). Together they
/// promise that idle connections holding every slot delay a normal request by at most one idle
/// timeout, never for ever.
public struct APILimits: Sendable, Hashable {
    public var maxConnections: Int
    public var idleTimeout: Duration
    public var maxBodyBytes: Int

    public init(maxConnections: Int = 64, idleTimeout: Duration = .seconds(30), maxBodyBytes: Int = 64 * 1024) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxBodyBytes = maxBodyBytes
    }

    /// The idle timeout in NIO's unit, whole milliseconds.
    var idleTimeAmount: TimeAmount {
        let parts = idleTimeout.components
        return .milliseconds(parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000)
    }
}

/// Refuses a request whose declared body is larger than the limit before any handler runs, with
/// 413 and the API's JSON error; a body without a length is bounded where it is read
/// (`APIServer.collectBody`).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBytes: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    )
        async throws -> Response
    {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBytes {
            throw APIError.contentTooLarge(maxBytes)
        }
        return try await next(request, context)
    }
}
