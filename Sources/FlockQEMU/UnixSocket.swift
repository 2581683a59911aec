import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A connected unix stream socket, with the few blocking calls QMP and the agent need.
///
/// QEMU's sockets are local and answer in microseconds, so blocking I/O on a dedicated thread
/// (QMP) or bounded by `poll()` (agent) is simpler and easier to reason about than an event loop.
final class UnixSocket: Sendable {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Connects, retrying while the socket does not exist yet or refuses (QEMU still starting),
    /// until `timeout` passes or `keepTrying` says the peer is gone for good.
    static func connect(
        path: String, timeout: Duration, keepTrying: @Sendable () -> Bool = { true }
    ) async throws(QEMUError) -> UnixSocket {
        let deadline = ContinuousClock.now + timeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw .connect(path, "path longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        var lastError = "not tried"
        while true {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw .connect(path, "socket(): \(errnoText())") }
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 {
                // A peer that stops reading must not block a writer for ever.
                var limit = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
                return UnixSocket(fd: fd, path: path)
            }
            let code = errno
            close(fd)
            lastError = errnoText(code)
            guard code == ENOENT || code == ECONNREFUSED || code == EAGAIN || code == EINTR else {
                throw .connect(path, lastError)
            }
            guard ContinuousClock.now < deadline, keepTrying() else {
                throw .connect(path, "\(lastError) (gave up after \(timeout))")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Writes all of `data`; fails if the peer is gone or stops reading.
    func send(_ data: Data, what: String) throws(QEMUError) {
        var offset = 0
        let bytes = [UInt8](data)
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw .timeout("\(what): write to \(path)", after: .seconds(10))
                }
                throw .disconnected("\(what): write to \(path) failed: \(errnoText())")
            }
            offset += written
        }
    }

    /// One blocking read; an empty result means the peer closed.
    func readChunk(into buffer: inout [UInt8]) -> Int {
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if count < 0 && errno == EINTR { continue }
            return count
        }
    }

    /// Waits until the socket is readable or `deadline` passes; false on timeout.
    func waitReadable(until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            let ms = Int32(
                min(
                    remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1,
                    60_000))
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let result = poll(&descriptor, 1, ms)
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return true }  // let the read report the error
        }
    }

    /// Wakes a thread blocked in `readChunk`, which then sees end of file.
    func shutdown() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}

/// Splits a byte stream into lines, bounded so that a peer sending garbage without newlines
/// cannot exhaust memory: an over-long line is dropped up to its newline and reported.
struct LineSplitter {
    let limit: Int
    private var buffer: [UInt8] = []
    private var discarding = false

    init(limit: Int) { self.limit = limit }

    enum Item: Equatable {
        case line([UInt8])
        case tooLong
    }

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Item] {
        var items: [Item] = []
        var rest = bytes
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            if discarding {
                discarding = false
            } else {
                buffer.append(contentsOf: rest[rest.startIndex..<newline])
                if buffer.count > limit {
                    items.append(.tooLong)
                } else {
                    if buffer.last == UInt8(ascii: "\r") { buffer.removeLast() }
                    items.append(.line(buffer))
                }
            }
            buffer.removeAll(keepingCapacity: true)
            rest = rest[(newline + 1)...]
        }
        if !discarding {
            buffer.append(contentsOf: rest)
            if buffer.count > limit {
                buffer.removeAll()
                discarding = true
                items.append(.tooLong)
            }
        }
        return items
    }
}
