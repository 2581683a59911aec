import FlockSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every request HAProxy answered, as HAProxy logged it: its active time (`%Ta`, from the
/// request's arrival to the end of the response, queueing included) and its status.
///
/// HAProxy sends one raw syslog datagram per request to this receiver on a loopback UDP port
/// (see `DemoHAProxy.config`). Reading latency where the balancer measures it covers every
/// request of the load, which a side prober sampling a few per second cannot: a p99 needs
/// hundreds of requests per window.
public final class RequestLog: Sendable {
    public struct Entry: Sendable, Hashable {
        /// When the log line arrived (a few microseconds after HAProxy sent the response).
        public var at: ContinuousClock.Instant
        public var activeMs: Double
        /// HTTP status; -1 when HAProxy had no response to send (e.g. a connection abort).
        public var status: Int
    }

    /// The word each request's line starts with, so that other lines HAProxy logs (start-up
    /// notices, alerts) are not read as requests.
    static let marker = "flock-request"
    /// The `log-format` of the demo's frontend.
    public static let logFormat = "\(marker) %Ta %ST"

    public let port: Int
    private let fd: Int32
    private let entries = Mutex<[Entry]>([])
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds 127.0.0.1 on a free UDP port and starts receiving on a thread of its own, which
    /// runs until `stop()`.
    public init() throws {
        (fd, port) = try bindLoopback(type: SOCK_DGRAM)
        // A timeout on each receive, so the thread notices `stop()` within a fifth of a second.
        var limit = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receive() }
        thread.name = "flock-request-log"
        thread.start()
    }

    private func receive() {
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !stopped.withLock({ $0 }) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let line = String(decoding: buffer[0..<count], as: UTF8.self)
            if let entry = Self.parse(line, at: .now) { entries.withLock { $0.append(entry) } }
        }
        finished.signal()
    }

    /// Reads one raw log line: `flock-request <Ta> <status>`; anything else is not a request.
    static func parse(_ line: String, at: ContinuousClock.Instant) -> Entry? {
        let words = line.split(whereSeparator: \.isWhitespace)
        guard words.count >= 3, words[0] == marker, let active = Double(words[1]), let status = Int(words[2]) else {
            return nil
        }
        return Entry(at: at, activeMs: active, status: status)
    }

    /// The requests logged in `(from, to]`.
    public func entries(from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> [Entry] {
        entries.withLock { all in all.filter { $0.at > from && $0.at <= to } }
    }

    public var count: Int { entries.withLock { $0.count } }

    /// Stops the receiving thread and closes the socket.
    public func stop() {
        let first = stopped.withLock { was in
            defer { was = true }
            return !was
        }
        guard first else { return }
        finished.wait()
        close(fd)
    }
}
