#if canImport(Glibc)
    import Glibc
#endif

/// The blocking socket calls Flock's clients share (HAProxy's runtime API, QEMU's QMP and agent
/// sockets, the HTTP GET): connect, send and receive on a non-blocking descriptor, each bounded by
/// a deadline through `poll()`, with `EINTR` and `EAGAIN` retried in one place.
///
/// Callers run these on the blocking executor or a thread of their own, never on Swift's
/// cooperative pool.
public enum SocketIO {
    /// A new stream socket of `family`, close-on-exec.
    public static func streamSocket(family: Int32) throws(SocketError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(.failed, "socket(): \(errnoText())", code: errno) }
        return fd
    }

    /// Calls `body` with the `sockaddr_un` for `path`; a path too long for it is an error, never truncated.
    public static func withUnixAddress<T>(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SocketError) -> T
    ) throws(SocketError) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw SocketError(.failed, "path longer than \(capacity - 1) bytes", code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        return try withUnsafePointer(to: &address) { pointer throws(SocketError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(SocketError) in
                try body(sa, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Makes `fd` non-blocking and connects it to `address` by `deadline`.
    public static func connect(
        _ fd: Int32, to address: UnsafePointer<sockaddr>, length: socklen_t, deadline: ContinuousClock.Instant
    ) throws(SocketError) {
        let flags = fcntl(fd, F_GETFL, 0)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError(.failed, "fcntl(): \(errnoText())", code: errno)
        }
        while true {
            if Glibc.connect(fd, address, length) == 0 { return }
            let code = errno
            if code == EINPROGRESS { break }
            // A unix socket whose listen queue is full fails a non-blocking connect with EAGAIN
            // and stays unconnected: try again shortly, within the deadline.
            guard code == EAGAIN || code == EINTR else { throw SocketError(.failed, errnoText(code), code: code) }
            guard ContinuousClock.now < deadline else { throw SocketError(.timeout, "connect timed out", code: code) }
            usleep(5_000)
        }
        try wait(fd, for: Int16(POLLOUT), until: deadline)
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 else {
            throw SocketError(.failed, "getsockopt(): \(errnoText())", code: errno)
        }
        guard error == 0 else { throw SocketError(.failed, errnoText(error), code: error) }
    }

    /// A stream socket connected to the unix socket at `path` by `deadline`; nothing is left open
    /// when it fails.
    public static func connectUnix(_ path: String, deadline: ContinuousClock.Instant) throws(SocketError) -> Int32 {
        let fd = try streamSocket(family: AF_UNIX)
        do {
            try withUnixAddress(path) { (address, length) throws(SocketError) in
                try connect(fd, to: address, length: length, deadline: deadline)
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Writes all of `bytes` by `deadline`.
    public static func sendAll(
        _ fd: Int32, _ bytes: some Collection<UInt8>, until deadline: ContinuousClock.Instant
    ) throws(SocketError) {
        let bytes = Array(bytes)
        var offset = 0
        while offset < bytes.count {
            try wait(fd, for: Int16(POLLOUT), until: deadline)
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { continue }
                throw SocketError(.failed, "write: \(errnoText(code))", code: code)
            }
            offset += written
        }
    }

    /// One read into `buffer` once `fd` is readable, waiting until `deadline` (for ever when nil);
    /// 0 means the peer closed.
    public static func receive(
        _ fd: Int32, into buffer: inout [UInt8], until deadline: ContinuousClock.Instant?
    ) throws(SocketError) -> Int {
        while true {
            if let deadline { try wait(fd, for: Int16(POLLIN), until: deadline) } else { try waitForever(fd) }
            let count = buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if count >= 0 { return count }
            let code = errno
            if code == EAGAIN || code == EINTR { continue }
            throw SocketError(.failed, "read: \(errnoText(code))", code: code)
        }
    }

    /// Reads until the peer closes, at most `limit` bytes, by `deadline`, or until `complete` says
    /// what arrived is a whole answer (for a peer that keeps the connection open). A reset after
    /// some bytes still returns them: HAProxy may reset a connection after a complete answer.
    public static func receiveAll(
        _ fd: Int32, limit: Int, until deadline: ContinuousClock.Instant, complete: ([UInt8]) -> Bool = { _ in false }
    ) throws(SocketError) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count: Int
            do {
                count = try receive(fd, into: &buffer, until: deadline)
            } catch  where error.code == ECONNRESET && !result.isEmpty {
                return result
            }
            if count == 0 { return result }
            guard result.count + count <= limit else {
                throw SocketError(.failed, "the answer is larger than \(limit) bytes", code: EMSGSIZE)
            }
            result.append(contentsOf: buffer[0..<count])
            if complete(result) { return result }
        }
    }

    /// Waits until `fd` is ready for `events` or `deadline` passes (a `.timeout` error).
    /// Readiness, an error or a hang-up all mean the next call will not block; it reports the detail.
    public static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) throws(SocketError)
    {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw SocketError(.timeout, "timed out") }
            let (seconds, attoseconds) = left.components
            let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            if try poll(fd, events, millis) { return }
        }
    }

    private static func waitForever(_ fd: Int32) throws(SocketError) {
        while try !poll(fd, Int16(POLLIN), -1) {}
    }

    /// One `poll()`; true when ready, false on timeout or `EINTR`.
    private static func poll(_ fd: Int32, _ events: Int16, _ millis: Int32) throws(SocketError) -> Bool {
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let ready = Glibc.poll(&descriptor, 1, millis)
        if ready < 0 {
            let code = errno
            if code == EINTR { return false }
            throw SocketError(.failed, "poll: \(errnoText(code))", code: code)
        }
        return ready > 0
    }
}
